//! From the server options to the library's `ConnectionConfig`: authentication, secrets (environment,
//! stdin or a no-echo prompt — never argv), trust, proxy, timeouts. Everything is validated before a byte
//! is sent.

use crate::Failure;
use crate::args::{AuthArg, ServerArgs};
use cm_smartcard::auth::{AuthConfig, AuthMethod, Secret};
use cm_smartcard::cm::transport::CM_DEFAULT_CONNECT_TIMEOUT;
use cm_smartcard::cm::{ConnectionConfig, TransportConfig};
use cm_smartcard::http::proxy::ProxyConfig;
use std::io::{BufRead, IsTerminal};
use zeroize::Zeroize;

/// Environment variable for the password.
pub const PASSWORD_ENV: &str = "CM_PASSWORD";
/// Environment variable for the bearer token.
pub const TOKEN_ENV: &str = "CM_BEARER_TOKEN";

/// The validated connection settings (secrets inside are wiped when dropped).
pub fn config(args: &ServerArgs) -> Result<ConnectionConfig, Failure> {
    if args.password.is_some() {
        return Err(Failure::usage(format!(
            "--password is not accepted: a password on the command line shows in the process list and the \
             shell history. Set {PASSWORD_ENV}, use --password-stdin, or type it at the prompt"
        )));
    }
    if args.token.is_some() {
        return Err(Failure::usage(format!(
            "--token is not accepted: a token on the command line shows in the process list and the shell \
             history. Set {TOKEN_ENV} or use --token-stdin"
        )));
    }
    if args.password_stdin && args.token_stdin {
        return Err(Failure::usage(
            "--password-stdin and --token-stdin cannot both read stdin",
        ));
    }
    // The URL first: a bad URL is reported before any prompt.
    cm_smartcard::cm::url::ServerUrl::parse(&args.server)?;
    let auth = auth_config(args)?;
    let proxy = match args.proxy.trim() {
        p if p.eq_ignore_ascii_case("system") => ProxyConfig::System,
        p if p.eq_ignore_ascii_case("none") => ProxyConfig::None,
        p => {
            cm_smartcard::http::proxy::Proxy::parse(p)?;
            ProxyConfig::Explicit {
                url: p.to_string(),
                bypass: String::new(),
            }
        }
    };
    if let Some(ca) = &args.ca_file
        && !ca.is_file()
    {
        return Err(Failure::usage(format!(
            "--ca-file '{}' is not a readable file",
            ca.display()
        )));
    }
    Ok(ConnectionConfig {
        server_url: args.server.clone(),
        transport: TransportConfig {
            connect_timeout: CM_DEFAULT_CONNECT_TIMEOUT.min(args.timeout),
            timeout: args.timeout,
            extra_ca_file: args.ca_file.clone(),
            auth,
            proxy,
            ..TransportConfig::default()
        },
    })
}

fn auth_config(args: &ServerArgs) -> Result<AuthConfig, Failure> {
    let user = args.user.clone().filter(|u| !u.trim().is_empty());
    if args.token_stdin && args.auth != AuthArg::Bearer {
        return Err(Failure::usage("--token-stdin goes with --auth bearer"));
    }
    if args.password_stdin
        && (user.is_none() || matches!(args.auth, AuthArg::Bearer | AuthArg::None))
    {
        return Err(Failure::usage(
            "--password-stdin goes with --user and --auth negotiate, ntlm or basic",
        ));
    }
    let method = match args.auth {
        AuthArg::None => AuthMethod::None,
        AuthArg::Negotiate if user.is_some() => AuthMethod::NegotiateExplicit,
        AuthArg::Negotiate => AuthMethod::NegotiateCurrentUser,
        AuthArg::Ntlm => AuthMethod::Ntlm,
        AuthArg::Basic => AuthMethod::Basic,
        AuthArg::Bearer => AuthMethod::Bearer,
    };
    if matches!(method, AuthMethod::Ntlm | AuthMethod::Basic) && user.is_none() {
        return Err(Failure::usage(format!(
            "--auth {} needs --user",
            if method == AuthMethod::Ntlm {
                "ntlm"
            } else {
                "basic"
            }
        )));
    }
    if user.is_some() && matches!(method, AuthMethod::None | AuthMethod::Bearer) {
        return Err(Failure::usage(
            "--user goes with --auth negotiate, ntlm or basic",
        ));
    }
    let password = match method {
        AuthMethod::NegotiateExplicit | AuthMethod::Ntlm | AuthMethod::Basic => Some(secret(
            PASSWORD_ENV,
            args.password_stdin,
            "password",
            user.as_deref(),
        )?),
        _ => None,
    };
    let token = match method {
        AuthMethod::Bearer => Some(secret(TOKEN_ENV, args.token_stdin, "bearer token", None)?),
        _ => None,
    };
    let config = AuthConfig {
        method,
        username: user,
        password,
        token,
        spn: args.spn.clone(),
        allow_insecure_http: args.insecure_http,
        require_mutual_auth: args.require_mutual_auth,
    };
    config.validate()?;
    Ok(config)
}

/// A secret from stdin (when asked), the environment, or a no-echo prompt on the terminal.
fn secret(env: &str, from_stdin: bool, what: &str, user: Option<&str>) -> Result<Secret, Failure> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("cannot read the {what} from stdin: {e}")))?;
        let s = Secret::new(line.trim_end_matches(['\r', '\n']));
        line.zeroize();
        if s.is_empty() {
            return Err(Failure::usage(format!(
                "the {what} read from stdin is empty"
            )));
        }
        return Ok(s);
    }
    if let Some(mut value) = std::env::var_os(env).and_then(|v| v.into_string().ok()) {
        let s = Secret::new(&value);
        value.zeroize();
        if !s.is_empty() {
            return Ok(s);
        }
    }
    if std::io::stdin().is_terminal() && what == "password" {
        let prompt = format!("Password for {}: ", user.unwrap_or("the user"));
        let mut typed = rpassword::prompt_password(prompt).map_err(|e| {
            Failure::usage(format!("cannot read the password from the terminal: {e}"))
        })?;
        let s = Secret::new(&typed);
        typed.zeroize();
        return Ok(s);
    }
    let stdin_opt = if what == "password" {
        "--password-stdin"
    } else {
        "--token-stdin"
    };
    Err(Failure::usage(format!(
        "a {what} is needed: set {env}, use {stdin_opt}{}",
        if what == "password" {
            ", or run on a terminal to be prompted"
        } else {
            ""
        }
    )))
}
