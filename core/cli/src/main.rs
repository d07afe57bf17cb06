//! `ward`: the command-line device (see the `ward_cli` library for what it does).

fn main() -> anyhow::Result<()> {
    ward_cli::run(std::env::args_os())
}
