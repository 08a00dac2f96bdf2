//! Shell completions (`rvsadm --completions bash|zsh|fish`), generated from ipvsadm's option
//! table in [`crate::cli::OPTIONS`] so they never drift from what the parser accepts.

use std::fmt::Write;

use crate::cli::{ArgKind, Command, Tag, OPTIONS};

/// The shells rvsadm writes completions for.
pub const SHELLS: [&str; 3] = ["bash", "zsh", "fish"];

/// Words worth offering after an option that takes an argument.
fn values(tag: Tag) -> &'static [&'static str] {
    match tag {
        Tag::Scheduler => &[
            "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
            "twos",
        ],
        Tag::Cmd(Command::StartDaemon | Command::StopDaemon) => &["master", "backup"],
        Tag::TunType => &["ipip", "gue", "gre"],
        Tag::Pe => &["sip"],
        Tag::SchedFlags => &[
            "flag-1",
            "flag-2",
            "flag-3",
            "sh-fallback",
            "sh-port",
            "mh-fallback",
            "mh-port",
        ],
        _ => &[],
    }
}

/// rvsadm's own options, beyond ipvsadm's.
const EXTRA: [(&str, &str, &[&str]); 3] = [
    ("json", "print listings as JSON", &[]),
    (
        "family",
        "generic-netlink family to drive",
        &["IPVS", "RVS"],
    ),
    ("completions", "print shell completions", &SHELLS),
];

fn bash(program: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for o in OPTIONS {
        words.push(format!("--{}", o.long));
        if let Some(c) = o.short {
            words.push(format!("-{c}"));
        }
    }
    for (long, _, _) in EXTRA {
        words.push(format!("--{long}"));
    }
    words.dedup();
    let mut cases = String::new();
    for o in OPTIONS.iter().filter(|o| o.arg != ArgKind::None) {
        let vals = values(o.tag);
        if vals.is_empty() {
            continue;
        }
        let mut pattern = format!("--{}", o.long);
        if let Some(c) = o.short {
            let _ = write!(pattern, "|-{c}");
        }
        let _ = writeln!(
            cases,
            "        {pattern}) COMPREPLY=($(compgen -W \"{}\" -- \"$cur\")); return ;;",
            vals.join(" ")
        );
    }
    for (long, _, vals) in EXTRA.iter().filter(|(_, _, v)| !v.is_empty()) {
        let _ = writeln!(
            cases,
            "        --{long}) COMPREPLY=($(compgen -W \"{}\" -- \"$cur\")); return ;;",
            vals.join(" ")
        );
    }
    let func = format!("_{}", program.replace('-', "_"));
    format!(
        "# bash completion for {program}\n\
{func}() {{\n    \
local cur prev\n    \
cur=\"${{COMP_WORDS[COMP_CWORD]}}\"\n    \
prev=\"${{COMP_WORDS[COMP_CWORD-1]}}\"\n    \
case \"$prev\" in\n{cases}    esac\n    \
COMPREPLY=($(compgen -W \"{}\" -- \"$cur\"))\n}}\n\
complete -F {func} {program}\n",
        words.join(" ")
    )
}

fn zsh(program: &str) -> String {
    let mut out = format!("#compdef {program}\n\n_arguments -s \\\n");
    let quote = |s: &str| {
        s.replace('\'', "'\\''")
            .replace('[', "\\[")
            .replace(']', "\\]")
    };
    let mut seen = Vec::new();
    for o in OPTIONS {
        // `-l` is a second spelling of `--list`: offer it alone.
        let long_again = seen.contains(&o.long);
        seen.push(o.long);
        let vals = values(o.tag);
        let action = match o.arg {
            ArgKind::None => String::new(),
            _ if !vals.is_empty() => format!(":{}:({})", o.long, vals.join(" ")),
            ArgKind::Optional => format!("::{}:", o.long),
            ArgKind::Required => format!(":{}:", o.long),
        };
        let help = quote(o.help);
        match o.short {
            Some(c) if long_again => {
                let _ = writeln!(out, "  '-{c}[{help}]{action}' \\");
            }
            Some(c) => {
                let _ = writeln!(
                    out,
                    "  '(-{c} --{l})'{{-{c},--{l}}}'[{help}]{action}' \\",
                    l = o.long
                );
            }
            None => {
                let _ = writeln!(out, "  '--{}[{help}]{action}' \\", o.long);
            }
        }
    }
    for (long, help, vals) in EXTRA {
        let action = if vals.is_empty() {
            String::new()
        } else {
            format!(":{long}:({})", vals.join(" "))
        };
        let _ = writeln!(out, "  '--{long}[{help}]{action}' \\");
    }
    out.push_str("  '*::argument:'\n");
    out
}

fn fish(program: &str) -> String {
    let mut out = String::new();
    let mut seen = Vec::new();
    for o in OPTIONS {
        if seen.contains(&(o.long, o.short)) {
            continue;
        }
        seen.push((o.long, o.short));
        let _ = write!(out, "complete -c {program} -l {}", o.long);
        if let Some(c) = o.short {
            let _ = write!(out, " -s {c}");
        }
        if o.arg == ArgKind::Required {
            out.push_str(" -r");
        }
        let vals = values(o.tag);
        if !vals.is_empty() {
            let _ = write!(out, " -x -a '{}'", vals.join(" "));
        }
        let _ = writeln!(out, " -d '{}'", o.help.replace('\'', "\\'"));
    }
    for (long, help, vals) in EXTRA {
        let _ = write!(out, "complete -c {program} -l {long}");
        if !vals.is_empty() {
            let _ = write!(out, " -x -a '{}'", vals.join(" "));
        }
        let _ = writeln!(out, " -d '{help}'");
    }
    out
}

/// The completion script for `shell`, `None` for a shell rvsadm does not know.
pub fn script(shell: &str, program: &str) -> Option<String> {
    match shell {
        "bash" => Some(bash(program)),
        "zsh" => Some(zsh(program)),
        "fish" => Some(fish(program)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_is_offered() {
        for shell in SHELLS {
            let s = script(shell, "rvsadm").unwrap();
            for o in OPTIONS {
                assert!(s.contains(o.long), "{shell} lacks --{}", o.long);
            }
            assert!(s.contains("family") && s.contains("json"));
            let add = s.lines().find(|l| l.contains("add-service")).unwrap_or("");
            assert!(!add.contains("master"), "{shell}: {add}");
            println!("{shell}: {} lines", s.lines().count());
        }
        assert!(script("tcsh", "rvsadm").is_none());
        assert!(script("bash", "rvsadm")
            .unwrap()
            .contains("--scheduler|-s) COMPREPLY=($(compgen -W \"rr wrr"));
    }
}
