//! rvsadm: administer rvs (and stock ip_vs) with ipvsadm's interface.
//!
//! rvsadm is a drop-in ipvsadm 1.31: the same commands and options ([`cli`]), the same messages
//! and exit statuses, the same listings and save format byte for byte ([`output`]), over the IPVS
//! generic-netlink ABI ([`ctl`], with rvs-core's codec). It drives the `RVS` family when rvs is
//! loaded with `ipvs_compat=0`, else `IPVS` (rvs in compat mode or stock ip_vs). Beyond ipvsadm:
//! `--json` for every listing, `--family IPVS|RVS`, and `--completions bash|zsh|fish`.
//!
//! Deliberate differences: `-h`/`-v` answer without a kernel (ipvsadm needs IPVS even for those),
//! and both name rvsadm's own version.

mod cli;
mod completions;
mod ctl;
mod names;
mod output;

use std::io::{BufRead, Write};
use std::process::ExitCode;

use rvs_core::netlink::{Dest, Service, ServiceFlags};
use rvs_core::{abi, RVS_VERSION};

use cli::{Command, Failure, Format, Invocation, Parsed};
use ctl::{FamilyChoice, Ipvs, Mutation, Op};
use names::SystemNames;

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

/// rvsadm's own options, taken out of the words before ipvsadm's parser sees them.
struct Extensions {
    json: bool,
    family: FamilyChoice,
}

/// Removes `--json` and `--family NAME` (or `--family=NAME`) from `args`, up to a `--`.
fn take_extensions(args: &mut Vec<String>) -> Result<Extensions, Failure> {
    let mut ext = Extensions {
        json: false,
        family: FamilyChoice::Auto,
    };
    let mut i = 0;
    while i < args.len() {
        let word = args[i].as_str();
        if word == "--" {
            break;
        }
        let family = if word == "--json" {
            ext.json = true;
            args.remove(i);
            continue;
        } else if word == "--family" {
            args.remove(i);
            if i >= args.len() {
                return Err(Failure {
                    message: "--family: missing argument".into(),
                    status: 255,
                });
            }
            args.remove(i)
        } else if let Some(name) = word.strip_prefix("--family=") {
            let name = name.to_string();
            args.remove(i);
            name
        } else {
            i += 1;
            continue;
        };
        ext.family = match family.to_ascii_uppercase().as_str() {
            "IPVS" => FamilyChoice::Ipvs,
            "RVS" => FamilyChoice::Rvs,
            _ => {
                return Err(Failure {
                    message: format!("--family: expected IPVS or RVS, not `{family}'"),
                    status: 2,
                })
            }
        };
    }
    Ok(ext)
}

/// What stops rvsadm at once with a status (its message already printed), as ipvsadm's
/// `exit()` calls in the middle of listings and restores do.
struct Stop(u8);

/// Runs commands against one open channel.
struct Runner {
    ipvs: Ipvs,
    names: SystemNames,
    program: String,
    json: bool,
    out: String,
}

/// The service identity ipvsadm sends to look a service up (`ipvs_get_service`): everything else
/// zero, the flags mask all ones.
fn identity(svc: &Service) -> Service {
    Service {
        af: svc.af,
        protocol: svc.protocol,
        addr: svc.addr,
        port: svc.port,
        fwmark: svc.fwmark,
        flags: ServiceFlags::all(0),
        ..Service::default()
    }
}

impl Runner {
    fn flush(&mut self) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(self.out.as_bytes());
        let _ = stdout.flush();
        self.out.clear();
    }

    /// Prints what was gathered, then `message` on stderr, and stops with `status`.
    fn fatal(&mut self, message: Option<String>, status: u8) -> Stop {
        self.flush();
        if let Some(m) = message {
            eprintln!("{m}");
        }
        Stop(status)
    }

    fn dests_of(&mut self, svc: &Service) -> Result<Vec<Dest>, Stop> {
        self.ipvs
            .dests(&identity(svc))
            .map_err(|e| self.fatal(Some(ctl::strerror(Op::GetDests, e.0)), 1))
    }

    /// `list_all`: every service and its destinations, as a table, rules or JSON.
    fn list_all(&mut self, format: &Format) -> Result<(), Stop> {
        if !format.rule && !self.json {
            self.out.push_str(&output::header(&self.ipvs.info));
        }
        let mut services = self
            .ipvs
            .services()
            .map_err(|e| self.fatal(Some(ctl::strerror(Op::GetServices, e.0)), 1))?;
        if !format.nosort {
            output::sort_services(&mut services);
        }
        if self.json && !format.rule {
            let mut entries = Vec::new();
            for svc in services {
                let dests = self.dests_of(&svc)?;
                entries.push((svc, dests));
            }
            let info = self.ipvs.info;
            self.print_json(&output::list_json(Some(&info), &sorted(entries, format)));
            return Ok(());
        }
        // Like ipvsadm, print as we go, so a failing dump leaves what came before it.
        self.out.push_str(&output::title(format));
        for svc in services {
            let mut dests = self.dests_of(&svc)?;
            let mut text = String::new();
            output::service_entry(&mut text, &svc, &mut dests, format, &self.names);
            self.out.push_str(&text);
        }
        Ok(())
    }

    fn print_json(&mut self, value: &serde_json::Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_default();
        self.out.push_str(&text);
        self.out.push('\n');
    }

    /// `list_service`: one service.
    fn list_service(&mut self, svc: &Service, format: &Format) -> Result<(), Stop> {
        let entry = self
            .ipvs
            .service(&identity(svc))
            .map_err(|e| self.fatal(Some(ctl::strerror(Op::GetService, e.0)), 1))?;
        if self.json {
            let dests = self.dests_of(&entry)?;
            let entries = sorted(vec![(entry, dests)], format);
            self.print_json(&output::list_json(None, &entries));
            return Ok(());
        }
        self.out.push_str(&output::title(format));
        let mut dests = self.dests_of(&entry)?;
        let mut text = String::new();
        output::service_entry(&mut text, &entry, &mut dests, format, &self.names);
        self.out.push_str(&text);
        Ok(())
    }

    /// `list_conn`: the connection table, read from the family's proc file.
    fn list_conns(&mut self, format: &Format) -> Result<(), Stop> {
        let path = if self.ipvs.family_name() == abi::RVS_GENL_NAME {
            "/proc/net/rvs_conn"
        } else {
            "/proc/net/ip_vs_conn"
        };
        let Ok(file) = std::fs::File::open(path) else {
            return Err(self.fatal(Some(format!("cannot open file {path}")), 1));
        };
        let mut lines = std::io::BufReader::new(file).lines();
        match lines.next() {
            Some(Ok(_)) => {}
            _ => return Err(self.fatal(Some(format!("unexpected input from {path}")), 1)),
        }
        let conns: Vec<output::Conn> = lines
            .map_while(Result::ok)
            .filter_map(|l| output::parse_conn(&l))
            .collect();
        if self.json {
            self.print_json(&output::conns_json(&conns));
            return Ok(());
        }
        self.out.push_str(&output::conn_title(format));
        for c in &conns {
            let line = output::conn_line(c, format, &self.names);
            self.out.push_str(&line);
        }
        Ok(())
    }

    fn list(&mut self, inv: &Invocation) -> Result<(), Stop> {
        let f = &inv.format;
        if inv.has(cli::optc::CONNECTION) {
            self.list_conns(f)
        } else if inv.has(cli::optc::SERVICE) {
            self.list_service(&inv.svc, f)
        } else if inv.has(cli::optc::TIMEOUT) {
            let t = self.ipvs.timeouts().map_err(|_| self.fatal(None, 1))?;
            if self.json {
                self.print_json(&output::timeouts_json(&t));
            } else {
                self.out.push_str(&output::timeouts(&t));
            }
            Ok(())
        } else if inv.has(cli::optc::DAEMON) {
            let d = self.ipvs.daemons().map_err(|_| self.fatal(None, 1))?;
            if self.json {
                self.print_json(&output::daemons_json(&d));
            } else {
                self.out.push_str(&output::daemons(&d));
            }
            Ok(())
        } else {
            self.list_all(f)
        }
    }

    /// `restore_table`: one command per line of stdin; the status is the last line's.
    fn restore(&mut self) -> Result<u8, Stop> {
        let mut status = 0;
        let stdin = std::io::stdin();
        for line in stdin.lock().lines().map_while(Result::ok) {
            let words = cli::restore_words(&line);
            if words.is_empty() {
                continue;
            }
            status = self.run_words(&words, true)?;
        }
        Ok(status)
    }

    /// Parses and runs one command line (the process's, or one line of a restore).
    fn run_words(&mut self, words: &[String], in_restore: bool) -> Result<u8, Stop> {
        match cli::parse(&self.program, words, in_restore, &self.names) {
            Err(f) => Err(self.fatal(Some(f.message), f.status)),
            Ok(Parsed::Help) => {
                self.out
                    .push_str(&cli::usage(&self.program, &version_line()));
                Err(self.fatal(None, 0))
            }
            Ok(Parsed::Version) => {
                self.out.push_str(&version_line());
                self.out.push('\n');
                Err(self.fatal(None, 0))
            }
            Ok(Parsed::Run(inv)) => self.run(&inv),
        }
    }

    /// Carries out one parsed command, as `process_options` does after its checks.
    fn run(&mut self, inv: &Invocation) -> Result<u8, Stop> {
        match inv.command {
            Command::List => {
                self.list(inv)?;
                return Ok(0);
            }
            Command::Save => {
                let mut f = inv.format;
                f.rule = true;
                self.list_all(&f)?;
                return Ok(0);
            }
            Command::Restore => return self.restore(),
            _ => {}
        }
        let Some(m) = mutation(inv) else {
            return Ok(0);
        };
        match self.ipvs.mutate(&m) {
            Ok(()) => Ok(0),
            Err(e) => {
                self.flush();
                eprintln!("{}", ctl::strerror(m.op(), e.0));
                Ok(255)
            }
        }
    }
}

/// The change a command asks of the kernel; `None` for listings and restores.
fn mutation(inv: &Invocation) -> Option<Mutation<'_>> {
    Some(match inv.command {
        Command::List | Command::Save | Command::Restore => return None,
        Command::Flush => Mutation::Flush,
        Command::AddService => Mutation::AddService(&inv.svc),
        Command::EditService => Mutation::UpdateService(&inv.svc),
        Command::DelService => Mutation::DelService(&inv.svc),
        Command::Zero => Mutation::Zero(&inv.svc),
        Command::AddDest => Mutation::AddDest(&inv.svc, &inv.dest),
        Command::EditDest => Mutation::UpdateDest(&inv.svc, &inv.dest),
        Command::DelDest => Mutation::DelDest(&inv.svc, &inv.dest),
        Command::Timeout => Mutation::SetTimeouts(&inv.timeouts),
        Command::StartDaemon => Mutation::StartDaemon(&inv.daemon),
        Command::StopDaemon => Mutation::StopDaemon(&inv.daemon),
    })
}

/// Entries in listing order (services are sorted before this; destinations here), for JSON.
fn sorted(entries: Vec<(Service, Vec<Dest>)>, format: &Format) -> Vec<(Service, Vec<Dest>)> {
    entries
        .into_iter()
        .map(|(s, mut d)| {
            if !format.nosort {
                output::sort_dests(&mut d);
            }
            (s, d)
        })
        .collect()
}

/// Opens the channel as `ipvs_init` does, loading ip_vs once with modprobe if no family is there.
fn open(choice: FamilyChoice) -> Result<Ipvs, ctl::Errno> {
    match Ipvs::open(choice) {
        Ok(ipvs) => Ok(ipvs),
        Err(first) if choice != FamilyChoice::Rvs => {
            let loaded = std::process::Command::new("/sbin/modprobe")
                .args(["--", "ip_vs"])
                .status()
                .is_ok_and(|s| s.success());
            if loaded {
                Ipvs::open(choice)
            } else {
                Err(first)
            }
        }
        Err(e) => Err(e),
    }
}

fn exit_with(f: &Failure) -> ExitCode {
    eprintln!("{}", f.message);
    ExitCode::from(f.status)
}

fn main() -> ExitCode {
    let mut argv = std::env::args();
    let program = argv.next().unwrap_or_else(|| "rvsadm".to_string());
    let mut args: Vec<String> = argv.collect();

    if args.first().map(String::as_str) == Some("--completions") {
        let shell = args.get(1).map(String::as_str).unwrap_or("");
        let name = std::path::Path::new(&program)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("rvsadm");
        return match completions::script(shell, name) {
            Some(s) => {
                print!("{s}");
                ExitCode::SUCCESS
            }
            None => exit_with(&Failure {
                message: format!(
                    "--completions: expected one of {}, not `{shell}'",
                    completions::SHELLS.join(", ")
                ),
                status: 2,
            }),
        };
    }
    let ext = match take_extensions(&mut args) {
        Ok(ext) => ext,
        Err(f) => return exit_with(&f),
    };
    // ipvsadm needs IPVS before it even reads -h; rvsadm answers help and version without it.
    let names = SystemNames::new();
    if matches!(
        args.first().map(String::as_str),
        Some("-h" | "--help" | "-v" | "--version")
    ) {
        match cli::parse(&program, &args, false, &names) {
            Ok(Parsed::Help) => print!("{}", cli::usage(&program, &version_line())),
            Ok(Parsed::Version) => println!("{}", version_line()),
            _ => {}
        }
        return ExitCode::SUCCESS;
    }
    let ipvs = match open(ext.family) {
        Ok(ipvs) => ipvs,
        Err(e) => {
            return exit_with(&Failure {
                message: format!(
                    "Can't initialize ipvs: {}\nAre you sure that IP Virtual Server is built in \
                     the kernel or as module?",
                    ctl::strerror(Op::Init, e.0)
                ),
                status: 2,
            })
        }
    };
    let mut runner = Runner {
        ipvs,
        names,
        program,
        json: ext.json,
        out: String::new(),
    };
    if ipvs_version_too_old(&runner.ipvs) {
        let v = runner.ipvs.info.version;
        eprint!(
            "Warning: IPVS version mismatch: \n  Kernel compiled with IPVS version {}.{}.{}\n  \
             ipvsadm v1.31  requires minimum IPVS version 1.1.4\n\n",
            (v >> 16) & 0xff,
            (v >> 8) & 0xff,
            v & 0xff
        );
    }
    let status = if args.is_empty() {
        runner.list_all(&Format::default()).map(|()| 0)
    } else {
        runner.run_words(&args, false)
    };
    runner.flush();
    match status {
        Ok(s) | Err(Stop(s)) => ExitCode::from(s),
    }
}

/// `check_ipvs_version`: ipvsadm warns below IPVS 1.1.4.
fn ipvs_version_too_old(ipvs: &Ipvs) -> bool {
    ipvs.info.version < 0x0001_0104
}

#[cfg(test)]
mod tests {
    use super::*;
    use names::Names;

    #[test]
    fn version_line_names_ipvs_1_2_1() {
        assert_eq!(
            version_line(),
            format!("rvsadm v{RVS_VERSION} (ipvsadm v1.31 interface, IPVS v1.2.1)")
        );
    }

    #[test]
    fn extensions_are_taken_out() {
        let mut args: Vec<String> = ["-L", "--json", "-n", "--family", "rvs", "--", "--json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let ext = take_extensions(&mut args).ok().unwrap();
        assert!(ext.json);
        assert_eq!(ext.family, FamilyChoice::Rvs);
        assert_eq!(args, vec!["-L", "-n", "--", "--json"]);
        let mut bad = vec!["--family=x".to_string()];
        assert_eq!(take_extensions(&mut bad).err().unwrap().status, 2);
    }

    #[test]
    fn lookups_use_the_service_identity_only() {
        let svc = Service {
            af: abi::AF_INET,
            protocol: abi::IPPROTO_TCP,
            port: 80,
            timeout: 300,
            netmask: u32::MAX,
            ..Service::default()
        };
        let id = identity(&svc);
        assert_eq!((id.timeout, id.netmask, id.port), (0, 0, 80));
        let _ = SystemNames::new().port_to_service(80, abi::IPPROTO_TCP);
    }
}
