//! Ctrl-C handling: the first SIGINT asks the run to end early (its results are still written,
//! marked `interrupted`), a second one exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A cancellation flag shared by the run and its client threads.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Installs the SIGINT handler on a small thread of its own: the first Ctrl-C sets this
    /// flag, the second exits the process with status 130.
    pub fn install_ctrl_c(&self) -> std::io::Result<()> {
        let flag = self.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("ctrl-c".into())
            .spawn(move || {
                rt.block_on(async {
                    if tokio::signal::ctrl_c().await.is_err() {
                        return;
                    }
                    eprintln!(
                        "\nstrata-bench: interrupted, finishing the run (Ctrl-C again to exit now)"
                    );
                    flag.trigger();
                    if tokio::signal::ctrl_c().await.is_ok() {
                        eprintln!("strata-bench: second interrupt, exiting");
                        std::process::exit(130);
                    }
                })
            })?;
        Ok(())
    }
}
