//! Medians, ranges and the alternating order that keep a noisy machine's drift out of ratios.

/// Runs both, `x` first in even rounds and `y` first in odd ones, so that a drift in the
/// machine's speed weighs on both alike; returns their results as (x, y).
pub fn alternately<T>(round: u32, x: impl FnOnce() -> T, y: impl FnOnce() -> T) -> (T, T) {
    if round.is_multiple_of(2) {
        let x = x();
        (x, y())
    } else {
        let y = y();
        (x(), y)
    }
}

/// The result in the middle by `key` (the upper one of an even count).
pub fn median<T: Copy>(mut v: Vec<T>, key: impl Fn(&T) -> f64) -> T {
    v.sort_by(|a, b| key(a).total_cmp(&key(b)));
    v[v.len() / 2]
}

/// The median of some figures.
pub fn median_of(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// The lowest and the highest of some figures (NaN for none).
pub fn spread(v: &[f64]) -> [f64; 2] {
    if v.is_empty() {
        return [f64::NAN; 2];
    }
    v.iter().fold([f64::INFINITY, f64::NEG_INFINITY], |[lo, hi], &r| [lo.min(r), hi.max(r)])
}

/// The lowest and the highest of some ratios, as "lo-hi".
pub fn range(v: &[f64]) -> String {
    let [lo, hi] = spread(v);
    format!("{lo:.3}-{hi:.3}")
}

/// Runs `steps` in an order rotated by one every round, so that each comes first as often as
/// the others and a drift in the machine's speed weighs on all alike: [`alternately`] for more
/// than two.
pub fn rotated<T: Copy>(round: usize, steps: &[T]) -> Vec<T> {
    let mut v = steps.to_vec();
    if !v.is_empty() {
        let n = v.len();
        v.rotate_left(round % n);
    }
    v
}
