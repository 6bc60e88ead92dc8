//! The `inboxkit-mock` command line.

mod cli;

/// mimalloc: the sender, the receiver and the server allocate per request from many threads,
/// where glibc's allocator spends a quarter of the CPU time (measured with perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
