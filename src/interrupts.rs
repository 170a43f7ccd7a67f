//! Reading Postgres' interrupt flags without acting on them (for loops that run compute
//! on worker threads and may stop only between steps, on the backend thread).

use pgrx::pg_sys;

/// Whether a query cancel (including statement_timeout / lock_timeout) or a backend
/// termination is pending. Other interrupts (`client_connection_check_interval`,
/// `pg_log_backend_memory_contexts`, proc-signal barriers, catch-up) also set
/// `InterruptPending` but are handled by `CHECK_FOR_INTERRUPTS` without an error, so they
/// must not stop work. Read on the backend thread only.
pub fn cancel_pending() -> bool {
    // SAFETY: plain reads of Postgres' volatile sig_atomic_t flags on the backend thread.
    unsafe {
        core::ptr::read_volatile(core::ptr::addr_of!(pg_sys::QueryCancelPending)) != 0
            || core::ptr::read_volatile(core::ptr::addr_of!(pg_sys::ProcDiePending)) != 0
    }
}
