//! Runs the benchmark's packet path `ROUNDS` times over its frames, for callgrind:
//!
//!   valgrind --tool=callgrind --toggle-collect='*run_burst*' \
//!       target/release/examples/packet_path_ipp RULES ROUNDS
//!
//! Instructions counted / (ROUNDS * 4096) = instructions per packet, stable on a noisy box.
//! Run plainly, it also prints the time per packet (noisy, for quick comparisons).

#[path = "../benches/common/mod.rs"]
mod common;

fn main() {
    let mut args = std::env::args().skip(1);
    let rules: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let table = common::table(rules);
    let frames = common::frames(4096);
    let mut out = [0u8; 128];
    let mut copies = 0u64;
    let t0 = std::time::Instant::now();
    for _ in 0..rounds {
        copies += u64::from(common::run_burst(std::hint::black_box(&table), &frames, &mut out));
    }
    let ns = t0.elapsed().as_nanos() as f64 / (rounds * frames.len()) as f64;
    println!("{rules} rules: {} packets, {copies} copies, {ns:.1} ns/packet", rounds * frames.len());
}
