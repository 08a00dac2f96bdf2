//! `--name value` options and `--flag`s, with typed getters that name the option in their errors.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The parsed options of one command.
pub struct Args(HashMap<String, Option<String>>);

const FLAGS: [&str; 2] = ["fill", "replay"];

impl Args {
    pub fn parse(argv: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut map = HashMap::new();
        let mut argv = argv.peekable();
        while let Some(word) = argv.next() {
            let name = word
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument `{word}'"))?;
            if FLAGS.contains(&name) {
                map.insert(name.to_string(), None);
            } else {
                let value = argv
                    .next()
                    .ok_or_else(|| format!("--{name}: missing value"))?;
                map.insert(name.to_string(), Some(value));
            }
        }
        Ok(Args(map))
    }

    pub fn flag(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.as_deref())
    }

    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: cannot parse `{v}'")),
        }
    }

    pub fn required<T: FromStr>(&self, name: &str) -> Result<T, String> {
        let v = self
            .raw(name)
            .ok_or_else(|| format!("--{name} is required"))?;
        v.parse()
            .map_err(|_| format!("--{name}: cannot parse `{v}'"))
    }

    pub fn addr(&self, name: &str, default: Ipv4Addr) -> Result<Ipv4Addr, String> {
        self.get(name, default)
    }

    /// A comma-separated list of addresses (empty when absent).
    pub fn addrs(&self, name: &str) -> Result<Vec<Ipv4Addr>, String> {
        match self.raw(name) {
            None => Ok(Vec::new()),
            Some(v) => v
                .split(',')
                .map(|a| {
                    a.parse()
                        .map_err(|_| format!("--{name}: `{a}' is not an IPv4 address"))
                })
                .collect(),
        }
    }

    /// Ports: `80`, `80,8080`, `10000-19999` or a mix.
    pub fn ports(&self, name: &str) -> Result<Vec<u16>, String> {
        let v = self
            .raw(name)
            .ok_or_else(|| format!("--{name} is required"))?;
        let mut out = Vec::new();
        for part in v.split(',') {
            let bad = || format!("--{name}: `{part}' is not a port or a range A-B");
            if let Some((a, b)) = part.split_once('-') {
                let (a, b): (u16, u16) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad());
                }
                out.extend(a..=b);
            } else {
                out.push(part.parse().map_err(|_| bad())?);
            }
        }
        Ok(out)
    }

    /// Says READY on `--ready-file` (a FIFO the caller reads, or a plain file), if given.
    pub fn ready(&self) -> Result<(), String> {
        if let Some(path) = self.raw("ready-file") {
            let mut f = OpenOptions::new()
                .append(true)
                .create(true)
                .open(path)
                .map_err(|e| format!("--ready-file {path}: {e}"))?;
            writeln!(f, "READY").map_err(|e| format!("--ready-file {path}: {e}"))?;
        }
        Ok(())
    }
}
