//! rvsadm: administer rvs (and stock ip_vs) with ipvsadm's interface.
//!
//! This first cut answers `--version` and `--help`; the command set of ipvsadm 1.31 arrives with
//! the control-plane work (issue 4), over the IPVS generic-netlink codec of `rvs-core`.

use std::process::ExitCode;

use rvs_core::{abi, RVS_VERSION};

/// The version line, in ipvsadm's shape (`ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS
/// v1.2.1)`), naming the ipvsadm interface and IPVS ABI rvsadm speaks.
fn version_line() -> String {
    let v = abi::IP_VS_VERSION_CODE;
    format!(
        "rvsadm v{RVS_VERSION} (ipvsadm v1.31 interface, IPVS v{}.{}.{})",
        v >> 16,
        (v >> 8) & 0xff,
        v & 0xff
    )
}

const USAGE: &str = "Usage:\n  rvsadm --version\n  rvsadm --help\n";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["-v"] | ["--version"] => {
            println!("{}", version_line());
            ExitCode::SUCCESS
        }
        ["-h"] | ["--help"] => {
            print!("{}\n{USAGE}", version_line());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "rvsadm: only --version and --help exist in this build; the ipvsadm commands come \
                 with the control plane\n{USAGE}"
            );
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line_names_ipvs_1_2_1() {
        assert_eq!(
            version_line(),
            format!("rvsadm v{RVS_VERSION} (ipvsadm v1.31 interface, IPVS v1.2.1)")
        );
    }
}
