//! Diagnosis options for `cm-smartcard doctor` tests: a skewed `Date` header and chosen 401 challenges.

mod common;

use cm_emulator::{Config, Emulator};
use common::*;

const PROBE: &str =
    "/CertificateManagement/api/v1.0/smartcards?cardid=8c1f6f7e-2b1f-4a55-9f0e-0f5c9b1f0a11";

fn emu() -> Emulator {
    Emulator::start(Config {
        quiet: true,
        ..Config::default()
    })
    .unwrap()
}

#[test]
fn challenges_answer_requests_without_authorization() {
    let e = emu();
    e.set_challenges(&["Basic realm=\"CM\"", "Bearer"]);
    let r = req(e.addr(), "GET", PROBE, None);
    assert_eq!(r.status, 401);
    assert_eq!(r.all("WWW-Authenticate"), ["Basic realm=\"CM\"", "Bearer"]);
    let mut c = Client::connect(e.addr());
    c.send_raw(&build(
        "GET",
        PROBE,
        None,
        &[("Authorization", "Basic eDp5")],
    ));
    assert_eq!(
        c.read_response().unwrap().status,
        204,
        "served once credentials come"
    );
    // Control endpoints are never challenged; an empty list switches it off.
    assert_eq!(
        req(e.addr(), "GET", "/_emulator/requests", None).status,
        200
    );
    e.set_challenges(&[]);
    assert_eq!(req(e.addr(), "GET", PROBE, None).status, 204);
}

/// Seconds since the epoch of an IMF-fixdate (`Wed, 02 Dec 2026 01:43:19 GMT`).
fn epoch(date: &str) -> i64 {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let p: Vec<&str> = date.split_whitespace().collect();
    let (d, y): (i64, i64) = (p[1].parse().unwrap(), p[3].parse().unwrap());
    let m = MONTHS.iter().position(|x| *x == p[2]).unwrap() as i64 + 1;
    let t: Vec<i64> = p[4].split(':').map(|x| x.parse().unwrap()).collect();
    let (y, mp) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * mp + 2) / 5 + d;
    days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]
}

#[test]
fn date_skew_moves_the_date_header() {
    let e = emu();
    let date = |r: &Resp| epoch(r.header("Date").unwrap());
    let before = date(&req(e.addr(), "GET", PROBE, None));
    e.set_date_skew(-7_200);
    let r = req(e.addr(), "GET", PROBE, None);
    assert_eq!(r.all("Date").len(), 1, "one Date header");
    let skewed = date(&r);
    e.set_date_skew(0);
    let after = date(&req(e.addr(), "GET", PROBE, None));
    assert!(
        before - 7_200 <= skewed && skewed <= after - 7_200,
        "{before} {skewed} {after}"
    );
}
