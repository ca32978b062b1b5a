//! Certificates: a request's CSR generation options, certificate data (PKCS#10 in, PKCS#7/PFX out, issued
//! by the emulator's test CA), the certificates of a smart card or profile, and the caller's certificates.

use super::{Ctx, Reply, bad, forbidden, list_or_204, no_access, opt_str_prop, prop};
use crate::crypto::CsrError;
use crate::http::Response;
use crate::issuing::{self, CertSpec, IssuedCert};
use crate::resources::templates::CertItem;
use crate::state::{CertRec, ProfileRec, ordered_json};
use crate::{CALLER_USER_UUID, RequestStatus, SmartcardStatus};
use serde_json::Value;
use uuid::Uuid;

/// Subject of every emulated certificate request (the caller's name; CM fills in the target user's).
pub(crate) const SUBJECT: &str = "CN=cm-emulator user";

fn csr_option_fields(item: &CertItem, smartcard: bool) -> Vec<(&'static str, Value)> {
    let ksp = if smartcard {
        "Microsoft Smart Card Key Storage Provider"
    } else {
        "Microsoft Software Key Storage Provider"
    };
    vec![
        ("Subject", Value::from(SUBJECT)),
        ("KeyAlgorithmName", Value::from("RSA")),
        ("KeySize", Value::from(item.key_size)),
        ("FriendlyName", Value::from(item.friendly_name)),
        ("HashAlgorithmName", Value::from("SHA256")),
        ("KeyStorageProviderNames", Value::from(vec![ksp])),
        ("Exportable", Value::from(0)),
        ("KeyProtectionLevel", Value::from(0)),
        ("KeyUsages", Value::from(item.key_usages)),
    ]
}

/// GET /requests/{rid}/certificaterequestgenerationoptions — one item per CSR; 204 when the request
/// issues no client-keyed certificates (server keys, or a type that issues none).
pub(crate) fn csr_options(ctx: &mut Ctx) -> Reply {
    let rid = ctx.guid("rid")?;
    let req = ctx
        .state
        .request(rid)
        .ok_or_else(|| no_access("Request", rid))?;
    let items: Vec<String> = match ctx.state.template(req.profile_template) {
        Some(t) if req.request_type.issues_certificates() => t
            .csr_items
            .iter()
            .map(|i| ordered_json(&csr_option_fields(i, t.is_smartcard)))
            .collect(),
        _ => Vec::new(),
    };
    Ok(list_or_204(items))
}

/// One `Certificate` item of the certificatedata answer.
fn certificate_item(
    id: i64,
    item: &CertItem,
    pkcs7: Option<&[u8]>,
    pfx: Option<&[u8]>,
) -> Vec<(&'static str, Value)> {
    let b64 = |b: Option<&[u8]>| b.map_or(Value::Null, |b| Value::from(issuing::b64(b)));
    vec![
        ("TemplateCommonName", Value::from(item.template_common_name)),
        ("CertificateId", Value::from(id)),
        ("Flags", Value::from(0)),
        ("UseLocalMachineStore", Value::Bool(false)),
        ("Error", Value::Null),
        ("Pkcs7", b64(pkcs7)),
        ("Pfx", b64(pfx)),
        ("IsExternal", Value::Bool(false)),
        ("isServerGenerated", Value::Bool(pfx.is_some())),
        ("isPfx", Value::Bool(pfx.is_some())),
        ("isPkcs7", Value::Bool(pkcs7.is_some())),
        ("isKeyHistory", Value::Bool(item.is_key_history)),
    ]
}

/// POST /requests/{rid}/certificatedata `{pfxpassword, certificaterequests, comments}`.
pub(crate) fn certificate_data(ctx: &mut Ctx) -> Reply {
    let rid = ctx.guid("rid")?;
    let obj = ctx.json_object()?;
    let password = opt_str_prop(&obj, "pfxpassword")?.unwrap_or("").to_string();
    opt_str_prop(&obj, "comments")?;
    let csr_texts: Vec<String> = match prop(&obj, "certificaterequests") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("'certificaterequests' must be an array of strings."))?,
        Some(_) => {
            return Err(bad("'certificaterequests' must be an array of strings."));
        }
    };
    // Every CSR must at least be base64 before any state is looked at.
    let csrs: Vec<Vec<u8>> = csr_texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            issuing::b64_decode_lenient(t)
                .ok_or_else(|| bad(&format!("Certificate request {i} is not base64.")))
        })
        .collect::<Result<_, _>>()?;

    let st = &*ctx.state;
    let req = st
        .request(rid)
        .ok_or_else(|| no_access("Request", rid))?
        .clone();
    if !req.is_open_for_execution() {
        return Err(forbidden(&format!(
            "Request {rid} is {}; it must be Approved or Executing.",
            req.status.name()
        )));
    }
    if !req.request_type.issues_certificates() {
        return Err(forbidden(&format!(
            "A {} request issues no certificates.",
            req.request_type.name()
        )));
    }
    if req.certificates_returned {
        return Err(forbidden(&format!(
            "The certificates of request {rid} were already returned."
        )));
    }
    let template = st
        .template(req.profile_template)
        .ok_or_else(|| no_access("Profile template", req.profile_template))?
        .clone();
    // An Enroll writes onto its bound card; a Renew (or other card-acting type) onto the card it names.
    if template.is_smartcard && req.new_smartcard.is_none() && req.old_smartcard.is_none() {
        return Err(forbidden(&format!(
            "Request {rid} has no smart card bound."
        )));
    }
    if csrs.len() != template.csr_items.len() {
        return Err(forbidden(&format!(
            "Request {rid} needs {} certificate requests, got {}.",
            template.csr_items.len(),
            csrs.len()
        )));
    }

    // Issue everything first: a bad CSR leaves no trace.
    let mut issued: Vec<(CertItem, IssuedCert, Option<Vec<u8>>)> = Vec::new();
    for (i, (csr, item)) in csrs.iter().zip(&template.csr_items).enumerate() {
        let spec = spec_for(item, template.is_smartcard);
        let cert = st.pki.issue_from_csr(csr, &spec).map_err(|e| match e {
            CsrError::Internal(_) => Response::message(500, &format!("An error has occurred. {e}")),
            _ => bad(&format!("Certificate request {i}: {e}")),
        })?;
        issued.push((item.clone(), cert, None));
    }
    for item in &template.server_key_items {
        let (cert, pfx) = st
            .pki
            .issue_with_server_key(&spec_for(item, false), &password)
            .map_err(|e| Response::message(500, &format!("An error has occurred. {e}")))?;
        issued.push((item.clone(), cert, Some(pfx)));
    }

    let st = &mut *ctx.state;
    // The profile the certificates belong to: the bound card's, or a new software profile.
    let existing = req.new_profile.or(req.old_smartcard);
    let profile = match existing {
        Some(p) => p,
        None => {
            let p = ProfileRec {
                uuid: Uuid::new_v4(),
                status: SmartcardStatus::Assigned,
                assigned_user: req.target_user,
                profile_template: req.profile_template,
            };
            let id = p.uuid;
            st.profiles.push(p);
            id
        }
    };
    let mut answer = Vec::new();
    for (item, cert, pfx) in issued {
        let id = st.next_certificate_id;
        st.next_certificate_id += 1;
        let pkcs7 = pfx.is_none().then(|| st.pki.pkcs7(&cert.cert_der));
        answer.push(ordered_json(&certificate_item(
            id,
            &item,
            pkcs7.as_deref(),
            pfx.as_deref(),
        )));
        st.certificates.push(CertRec {
            profile,
            owner: req.target_user,
            template_common_name: item.template_common_name.to_string(),
            serial_hex: cert.serial_hex,
            thumbprint_hex: cert.thumbprint_hex,
            not_before: cert.not_before,
            not_after: cert.not_after,
            is_key_history: item.is_key_history,
        });
    }
    if let Some(r) = st.request_mut(rid) {
        r.certificates_returned = true;
        if existing.is_none() {
            r.new_profile = Some(profile);
        }
        if r.status == RequestStatus::Approved {
            r.status = RequestStatus::Executing;
        }
    }
    Ok(Response::json(
        200,
        crate::state::ordered_array(answer.into_iter()),
    ))
}

fn spec_for(item: &CertItem, smartcard: bool) -> CertSpec<'_> {
    CertSpec {
        friendly_name: item.friendly_name,
        subject_cn: "cm-emulator user",
        key_usages: item.key_usages,
        smartcard,
    }
}

fn certificates_of_profile(ctx: &Ctx, profile: Uuid) -> Response {
    list_or_204(
        ctx.state
            .certificates
            .iter()
            .filter(|c| c.profile == profile)
            .map(|c| ordered_json(&c.card_fields()))
            .collect(),
    )
}

/// GET /smartcards/{scid}/certificates (a card's profile has the card's Uuid).
pub(crate) fn for_smartcard(ctx: &mut Ctx) -> Reply {
    let id = ctx.guid("scid")?;
    Ok(certificates_of_profile(ctx, id))
}

/// GET /profiles/{pid}/certificates
pub(crate) fn for_profile(ctx: &mut Ctx) -> Reply {
    let id = ctx.guid("pid")?;
    Ok(certificates_of_profile(ctx, id))
}

/// GET /certificates — the caller's certificates, those of retired profiles filtered out.
pub(crate) fn for_user(ctx: &mut Ctx) -> Reply {
    let st = &*ctx.state;
    Ok(list_or_204(
        st.certificates
            .iter()
            .filter(|c| c.owner == CALLER_USER_UUID)
            .filter(|c| {
                st.profile(c.profile)
                    .is_none_or(|p| p.status != SmartcardStatus::Retired)
            })
            .map(|c| ordered_json(&c.user_fields()))
            .collect(),
    ))
}
