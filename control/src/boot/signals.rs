//! Signals as messages for the control loop: Ctrl-C and SIGTERM stop, SIGHUP reloads. The
//! handlers are installed before anything else starts, so a signal during start-up is never
//! fatal: a reload asked for then is done once the control loop runs.

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the signals ask the control loop to do.
pub enum Event {
    Stop(&'static str),
    Reload,
}

/// Installs the handlers; events arrive on the returned channel.
pub fn install() -> Result<crossbeam::channel::Receiver<Event>> {
    let (tx, rx) = crossbeam::channel::unbounded();
    let int = tx.clone();
    ctrlc::set_handler(move || {
        let _ = int.send(Event::Stop("interrupted"));
    })
    .context("installing the Ctrl-C handler")?;
    let term = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, term.clone()).context("installing the SIGTERM handler")?;
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone()).context("installing the SIGHUP handler")?;
    std::thread::Builder::new().name("tm-signals".into()).spawn(move || loop {
        if term.swap(false, Ordering::SeqCst) && tx.send(Event::Stop("SIGTERM")).is_err() {
            return;
        }
        if hup.swap(false, Ordering::SeqCst) && tx.send(Event::Reload).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    })?;
    Ok(rx)
}
