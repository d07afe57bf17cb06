//! The `ward` CLI, built inside the end-to-end test package so tests can spawn and kill it.

fn main() -> anyhow::Result<()> {
    ward_cli::run(std::env::args_os())
}
