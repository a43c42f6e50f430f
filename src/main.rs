//! The `nanscope` binary: the command line lives in the library (`nanscope::cli`).

fn main() -> std::process::ExitCode {
    nanscope::cli::main()
}
