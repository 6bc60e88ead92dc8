//! The optional config file (`--config FILE` or `INBOXKIT_MOCK_CONFIG`): defaults for flags.
//!
//! Keys are the long flag names. Top-level keys apply to every subcommand that has the flag;
//! a `[serve]`, `[send]`, ... table applies to that subcommand and wins over the top level.
//! Precedence: command-line flag > `INBOXKIT_MOCK_*` environment variable > config file >
//! built-in default. Values are checked with the flag's own parser, and every error names the
//! file, line, column and key.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};
use toml::de::{DeTable, DeValue};

/// The long flag that names the config file.
pub const FLAG: &str = "config";
/// The environment variable that names the config file.
pub const ENV: &str = "INBOXKIT_MOCK_CONFIG";

/// Why the config file could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key or value is wrong.
    #[error("config file {}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, naming the key.
        message: String,
    },
}

/// The config file named on the command line (`--config F`, `--config=F`) or in
/// `INBOXKIT_MOCK_CONFIG`, if any.
pub fn locate(args: &[OsString]) -> Option<PathBuf> {
    let flag = format!("--{FLAG}");
    let prefix = format!("--{FLAG}=");
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if *arg == *flag {
            return args.next().map(PathBuf::from);
        }
        if let Some(value) = arg.to_str().and_then(|a| a.strip_prefix(&prefix)) {
            return Some(PathBuf::from(value));
        }
    }
    std::env::var_os(ENV)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

/// `command` with the defaults of the config file at `path`.
pub fn apply(command: Command, path: &Path) -> Result<Command, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    apply_text(command, &text, path)
}

/// `command` with the defaults of config `text` (read from `path`, for messages).
pub fn apply_text(mut command: Command, text: &str, path: &Path) -> Result<Command, ConfigError> {
    let invalid = |offset: usize, message: String| {
        let (line, column) = inboxkit_mock::scenario::line_column(text, offset);
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message,
        }
    };
    let table = DeTable::parse(text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        invalid(offset, error.message().to_string())
    })?;
    let mut top_level = Vec::new();
    let mut per_command = Vec::new();
    for (key, value) in table.get_ref() {
        let name = key.get_ref().as_ref();
        match (command.find_subcommand(name).is_some(), value.get_ref()) {
            (true, DeValue::Table(table)) => per_command.push((name.to_string(), table)),
            (true, _) => {
                return Err(invalid(
                    key.span().start,
                    format!("`{name}` is a subcommand: write its settings as a [{name}] table"),
                ));
            }
            (false, _) => top_level.push((key, value)),
        }
    }
    // The top level first, so a subcommand's own table overrides it.
    for (key, value) in top_level {
        let name = key.get_ref().as_ref();
        let mut known = false;
        if let Some(arg) = settable(&command, name) {
            let id = arg.get_id().clone();
            let values =
                values_of(arg, value.get_ref()).map_err(|m| invalid(value.span().start, m))?;
            command = command.mut_arg(id, |arg| with_default(arg, &values));
            known = true;
        }
        let names: Vec<String> = command
            .get_subcommands()
            .filter(|sub| settable(sub, name).is_some())
            .map(|sub| sub.get_name().to_string())
            .collect();
        for sub in names {
            let arg = settable(command.find_subcommand(&sub).expect("listed"), name)
                .expect("filtered")
                .clone();
            let values =
                values_of(&arg, value.get_ref()).map_err(|m| invalid(value.span().start, m))?;
            command = command.mut_subcommand(&sub, |cmd| {
                cmd.mut_arg(arg.get_id().clone(), |arg| with_default(arg, &values))
            });
            known = true;
        }
        if !known {
            return Err(invalid(
                key.span().start,
                format!("`{name}`: no subcommand has a --{name} option"),
            ));
        }
    }
    for (sub, table) in per_command {
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            let subcommand = command.find_subcommand(&sub).expect("checked above");
            if settable(&command, name).is_some() {
                return Err(invalid(
                    key.span().start,
                    format!(
                        "{sub}.{name}: --{name} applies to every subcommand: set it at the top level"
                    ),
                ));
            }
            let Some(arg) = settable(subcommand, name).cloned() else {
                let options: Vec<&str> = subcommand
                    .get_arguments()
                    .filter(|arg| is_settable(arg))
                    .filter_map(Arg::get_long)
                    .collect();
                return Err(invalid(
                    key.span().start,
                    format!(
                        "{sub}.{name}: `{sub}` has no --{name} option (it has: {})",
                        options.join(", ")
                    ),
                ));
            };
            let values = values_of(&arg, value.get_ref())
                .map_err(|m| invalid(value.span().start, format!("{sub}.{name}: {m}")))?;
            command = command.mut_subcommand(&sub, |cmd| {
                cmd.mut_arg(arg.get_id().clone(), |arg| with_default(arg, &values))
            });
        }
    }
    Ok(command)
}

/// The option of `command` with long name `name` that a config file may set.
fn settable<'a>(command: &'a Command, name: &str) -> Option<&'a Arg> {
    command
        .get_arguments()
        .find(|arg| arg.get_long() == Some(name) && is_settable(arg))
}

fn is_settable(arg: &Arg) -> bool {
    !arg.is_positional()
        && arg.get_long() != Some(FLAG)
        && matches!(
            arg.get_action(),
            ArgAction::Set | ArgAction::Append | ArgAction::SetTrue
        )
}

/// `arg` with `values` as its default; secrets stay out of `--help`.
fn with_default(arg: Arg, values: &[String]) -> Arg {
    let hide = arg.is_hide_env_values_set();
    arg.default_values(values.iter().map(|v| OsString::from(v.as_str())))
        .required(false)
        .hide_default_value(hide)
}

/// The config value as the strings the flag takes, checked with the flag's own parser.
fn values_of(arg: &Arg, value: &DeValue<'_>) -> Result<Vec<String>, String> {
    let long = arg.get_long().unwrap_or_default();
    let values = match (arg.get_action(), value) {
        (ArgAction::SetTrue, DeValue::Boolean(flag)) => return Ok(vec![flag.to_string()]),
        (ArgAction::SetTrue, other) => {
            return Err(format!(
                "`{long}` is a switch: expected true or false, found {}",
                other.type_str()
            ));
        }
        (ArgAction::Append, DeValue::Array(items)) => items
            .iter()
            .map(|item| scalar(long, item.get_ref()))
            .collect::<Result<Vec<_>, _>>()?,
        (_, DeValue::Array(_)) => {
            return Err(format!("`{long}` takes one value, not a list"));
        }
        (_, value) => vec![scalar(long, value)?],
    };
    let check = Command::new("config").no_binary_name(true).arg(
        Arg::new("value")
            .long(long.to_string())
            .action(ArgAction::Append)
            .value_parser(arg.get_value_parser().clone()),
    );
    let mut argv = Vec::with_capacity(values.len() * 2);
    for value in &values {
        argv.push(format!("--{long}"));
        argv.push(value.clone());
    }
    check.try_get_matches_from(argv).map_err(|error| {
        let rendered = error.to_string();
        let first = rendered.lines().next().unwrap_or_default();
        first.trim_start_matches("error: ").to_string()
    })?;
    Ok(values)
}

fn scalar(long: &str, value: &DeValue<'_>) -> Result<String, String> {
    match value {
        DeValue::String(text) => Ok(text.to_string()),
        DeValue::Integer(number) => {
            i64::from_str_radix(&number.as_str().replace('_', ""), number.radix())
                .map(|n| n.to_string())
                .map_err(|e| format!("`{long}`: {e}"))
        }
        DeValue::Float(number) => Ok(number.as_str().replace('_', "")),
        DeValue::Boolean(flag) => Ok(flag.to_string()),
        other => Err(format!(
            "`{long}`: expected a string, number or boolean, found {}",
            other.type_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    use crate::cli::Cli;

    fn parse(config: &str, args: &[&str]) -> Result<Cli, String> {
        let command = apply_text(Cli::command(), config, Path::new("mock.toml"))
            .map_err(|e| e.to_string())?;
        let matches = command
            .try_get_matches_from(args)
            .map_err(|e| e.to_string())?;
        Cli::from_arg_matches(&matches).map_err(|e| e.to_string())
    }

    fn serve_port(cli: &Cli) -> u16 {
        match &cli.command {
            crate::cli::Command::Serve(args) => args.port,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn a_subcommand_table_sets_defaults_and_flags_win() {
        let config = "[serve]\nport = 9100\n";
        let cli = parse(config, &["inboxkit-mock", "serve"]).unwrap();
        assert_eq!(serve_port(&cli), 9100);
        let cli = parse(config, &["inboxkit-mock", "serve", "--port", "9200"]).unwrap();
        assert_eq!(serve_port(&cli), 9200);
    }

    #[test]
    fn top_level_keys_reach_every_subcommand_that_has_the_flag() {
        let config = "port = 9300\ntime-scale = 60\n";
        let cli = parse(config, &["inboxkit-mock", "serve"]).unwrap();
        assert_eq!(serve_port(&cli), 9300);
        // `send` has --time-scale but no --port: the top-level port does not bother it, and
        // the top-level time scale reaches it.
        let send = parse(
            config,
            &["inboxkit-mock", "send", "--to", "http://127.0.0.1:1/"],
        )
        .unwrap();
        let send = format!("{:?}", send.command);
        assert!(send.contains("time_scale: 60.0"), "{send}");
        assert!(!send.contains("9300"), "{send}");
    }

    #[test]
    fn switches_lists_and_required_options_can_come_from_the_file() {
        let config = "[serve]\npaused = true\n\
                      failure = [\"dkim_setup_failed=0.5\", \"payment_declined=1\"]\n\
                      [send]\nto = \"http://127.0.0.1:9/hook\"\n";
        let serve = format!(
            "{:?}",
            parse(config, &["inboxkit-mock", "serve"]).unwrap().command
        );
        assert!(serve.contains("paused: true"), "{serve}");
        assert!(
            serve.contains(r#"failures: ["dkim_setup_failed=0.5", "payment_declined=1"]"#),
            "{serve}"
        );
        let send = format!(
            "{:?}",
            parse(config, &["inboxkit-mock", "send"]).unwrap().command
        );
        assert!(send.contains(r#"to: "http://127.0.0.1:9/hook""#), "{send}");
    }

    #[test]
    fn errors_name_file_line_column_and_key() {
        let error = parse("[serve]\nport = 8025\nbogus = 1\n", &["x", "serve"]).unwrap_err();
        assert!(
            error.starts_with("config file mock.toml:3:1: serve.bogus:"),
            "{error}"
        );
        assert!(error.contains("port"), "lists the valid keys: {error}");

        let error = parse("[serve]\ntimeout = \"ten\"\n", &["x", "serve"]).unwrap_err();
        assert!(
            error.starts_with("config file mock.toml:2:11: serve.timeout:"),
            "{error}"
        );
        assert!(error.contains("ten"), "{error}");

        let error = parse("nonsense = 1\n", &["x", "serve"]).unwrap_err();
        assert!(error.contains("mock.toml:1:1"), "{error}");
        assert!(
            error.contains("no subcommand has a --nonsense option"),
            "{error}"
        );

        let error = parse("[serve]\npaused = \"yes\"\n", &["x", "serve"]).unwrap_err();
        assert!(error.contains("switch"), "{error}");

        let error = parse("[serve\n", &["x", "serve"]).unwrap_err();
        assert!(error.starts_with("config file mock.toml:1:"), "{error}");
    }

    #[test]
    fn secrets_from_the_file_stay_out_of_help() {
        let command = apply_text(
            Cli::command(),
            "secret = \"whsec_from_file\"\n[serve]\nadmin-token = \"admin_from_file\"\n",
            Path::new("mock.toml"),
        )
        .unwrap();
        let mut serve = command.find_subcommand("serve").unwrap().clone();
        let help = serve.render_long_help().to_string();
        assert!(!help.contains("whsec_from_file"), "{help}");
        assert!(!help.contains("admin_from_file"), "{help}");
    }

    #[test]
    fn the_shipped_example_file_applies() {
        let example = include_str!("../../deploy/inboxkit-mock.toml");
        let command = apply_text(Cli::command(), example, Path::new("inboxkit-mock.toml")).unwrap();
        let matches = command.try_get_matches_from(["x", "serve"]).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        assert_eq!(cli.log_format, crate::cli::LogFormat::Text);
        assert_eq!(serve_port(&cli), 8025);
    }

    #[test]
    fn locate_reads_the_flag_in_both_spellings() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            locate(&args(&["x", "--config", "a.toml", "serve"])),
            Some(PathBuf::from("a.toml"))
        );
        assert_eq!(
            locate(&args(&["x", "serve", "--config=b.toml"])),
            Some(PathBuf::from("b.toml"))
        );
    }
}
