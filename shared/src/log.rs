//! Logging that reaches the runtime's log on every target: stderr on Spin and natively,
//! `console.error` on Workers. Never pass secrets here.

/// Logs an error line.
pub fn error(message: &str) {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    worker::console_error!("{message}");
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    eprintln!("{message}");
}
