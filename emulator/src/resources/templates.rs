//! Profile templates: the seeded catalogue, `GET /profiletemplates`, a template's workflow policy by type
//! (both documented path forms) and its smart card configuration.

use super::{Ctx, Reply, bad, list_or_204, object};
use crate::http::Response;
use crate::state::{PROFILE_TEMPLATE_VERSION, ordered_json};
use crate::{
    MANAGER_APPROVAL_TEMPLATE, RequestType, SERVER_KEYS_TEMPLATE, SMARTCARD_USER_TEMPLATE,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// The well-known Base CSP default admin key (`DefaultAdminKeyHex` of the seeded smart card templates).
pub const BASE_CSP_DEFAULT_ADMIN_KEY: [u8; 24] = [
    1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
];

#[derive(Debug, Clone)]
pub(crate) struct DataItem {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
}

/// A workflow policy that is enabled in its template (types without one answer `Enabled: false`).
#[derive(Debug, Clone)]
pub(crate) struct PolicyRec {
    pub request_type: RequestType,
    pub approvals_needed: u32,
    pub data_collection: Vec<DataItem>,
}

#[derive(Debug, Clone)]
pub(crate) struct SmartcardConfigRec {
    pub default_admin_key: [u8; 24],
    pub diversify_admin_key: bool,
    pub server_proposed_pin: bool,
    pub user_pin_option: i64,
    pub allow_reuse: bool,
}

/// One certificate the template issues: from a client CSR (`csr_options`) or with a server-generated key.
#[derive(Debug, Clone)]
pub(crate) struct CertItem {
    pub template_common_name: &'static str,
    pub friendly_name: &'static str,
    pub key_size: i64,
    /// NCRYPT key usages: 1 decrypt, 2 sign (3 both; the documentation's example value).
    pub key_usages: i64,
    pub is_key_history: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct TemplateRec {
    pub uuid: Uuid,
    pub name: &'static str,
    pub description: &'static str,
    pub is_smartcard: bool,
    pub policies: Vec<PolicyRec>,
    pub smartcard: Option<SmartcardConfigRec>,
    /// One item per CSR the client builds.
    pub csr_items: Vec<CertItem>,
    /// Certificates issued with server-generated keys (returned as PFX).
    pub server_key_items: Vec<CertItem>,
}

impl TemplateRec {
    pub fn policy(&self, t: RequestType) -> Option<&PolicyRec> {
        self.policies.iter().find(|p| p.request_type == t)
    }

    /// The `ProfileTemplateLimitedView` of `GET /profiletemplates`.
    pub fn limited_view(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("Name", Value::from(self.name)),
            ("Description", Value::from(self.description)),
            ("Uuid", Value::from(self.uuid.hyphenated().to_string())),
            ("IsSmartcardProfileTemplate", Value::Bool(self.is_smartcard)),
            ("IsVirtualSmartcardProfileTemplate", Value::Bool(false)),
        ]
    }

    /// The smart card configuration object (`SmartcardConfig`).
    pub fn smartcard_config_fields(&self) -> Option<Vec<(&'static str, Value)>> {
        let c = self.smartcard.as_ref()?;
        Some(vec![
            (
                "DefaultAdminKeyHex",
                Value::from(hex_upper(&c.default_admin_key)),
            ),
            ("DiversifyAdminKey", Value::Bool(c.diversify_admin_key)),
            ("UserPinOption", Value::from(c.user_pin_option)),
            ("ServerProposedPin", Value::Bool(c.server_proposed_pin)),
            (
                "AdminPinPolicy",
                Value::from(if c.diversify_admin_key { 1 } else { 0 }),
            ),
            ("AllowSmartcardReuse", Value::Bool(c.allow_reuse)),
            ("CardInitializationType", Value::from(0)),
            ("Middleware", Value::from("MSBaseCSP")),
            ("MinimumPinLength", Value::from(4)),
            ("MaximumPinLength", Value::from(8)),
        ])
    }

    /// The policy object for a type; `Enabled: false` when the template has none for it.
    pub fn policy_fields(&self, t: RequestType) -> Vec<(&'static str, Value)> {
        let p = self.policy(t);
        let data: Vec<Value> = p
            .map(|p| {
                p.data_collection
                    .iter()
                    .map(|d| json!({"Name": d.name, "Description": d.description, "Required": d.required}))
                    .collect()
            })
            .unwrap_or_default();
        vec![
            (
                "ApprovalsNeeded",
                Value::from(p.map_or(0, |p| p.approvals_needed)),
            ),
            ("AuthorizedApprover", json!(["CONTOSO\\CM Managers"])),
            ("AuthorizedEnrollmentAgent", json!([])),
            ("AuthorizedInitiator", json!(["CONTOSO\\Domain Users"])),
            ("CollectComments", Value::Bool(true)),
            ("CollectRequestPriority", Value::Bool(true)),
            ("DefaultRequestPriority", Value::from(0)),
            ("Documents", json!([])),
            ("Enabled", Value::Bool(p.is_some())),
            ("EnrollAgentRequired", Value::Bool(false)),
            ("OneTimePasswordPolicy", Value::Null),
            ("Personalization", Value::Null),
            ("PolicyDataCollection", Value::Array(data)),
            ("SelfServiceEnabled", Value::Bool(p.is_some())),
            ("PolicyType", Value::from(t.policy_name())),
            (
                "ProfileTemplateVersion",
                Value::from(PROFILE_TEMPLATE_VERSION),
            ),
        ]
    }
}

pub(crate) fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn policies(types: &[RequestType], approvals: u32) -> Vec<PolicyRec> {
    types
        .iter()
        .map(|&t| PolicyRec {
            request_type: t,
            approvals_needed: if t == RequestType::Enroll {
                approvals
            } else {
                0
            },
            data_collection: if t == RequestType::Enroll {
                vec![DataItem {
                    name: "Sample Data Item",
                    description: "Free text recorded with the request",
                    required: false,
                }]
            } else {
                Vec::new()
            },
        })
        .collect()
}

/// The seeded profile templates (see the crate documentation).
pub(crate) fn seeded() -> Vec<TemplateRec> {
    use RequestType::*;
    let signing = CertItem {
        template_common_name: "CMSmartcardSignature",
        friendly_name: "Smart card signature",
        key_size: 2048,
        key_usages: 3,
        is_key_history: false,
    };
    let encryption = CertItem {
        template_common_name: "CMSmartcardEncryption",
        friendly_name: "Smart card encryption",
        key_size: 2048,
        key_usages: 1,
        is_key_history: false,
    };
    vec![
        TemplateRec {
            uuid: SMARTCARD_USER_TEMPLATE,
            name: "Smartcard User",
            description: "Smart card with signature and encryption certificates; auto-approved; diversified admin key",
            is_smartcard: true,
            policies: policies(&[Enroll, Unblock, Retire, Renew, Revoke], 0),
            smartcard: Some(SmartcardConfigRec {
                default_admin_key: BASE_CSP_DEFAULT_ADMIN_KEY,
                diversify_admin_key: true,
                server_proposed_pin: false,
                user_pin_option: 0,
                allow_reuse: true,
            }),
            csr_items: vec![signing.clone(), encryption],
            server_key_items: Vec::new(),
        },
        TemplateRec {
            uuid: MANAGER_APPROVAL_TEMPLATE,
            name: "Smartcard Manager Approval",
            description: "Smart card whose enrollment needs one approval; default admin key; server-proposed PIN",
            is_smartcard: true,
            policies: policies(&[Enroll, Unblock, Retire], 1),
            smartcard: Some(SmartcardConfigRec {
                default_admin_key: BASE_CSP_DEFAULT_ADMIN_KEY,
                diversify_admin_key: false,
                server_proposed_pin: true,
                user_pin_option: 2,
                allow_reuse: false,
            }),
            csr_items: vec![signing],
            server_key_items: Vec::new(),
        },
        TemplateRec {
            uuid: SERVER_KEYS_TEMPLATE,
            name: "Server Keys",
            description: "Software profile whose keys the server generates (PFX), plus an archived encryption key",
            is_smartcard: false,
            policies: policies(&[Enroll, Renew, Revoke], 0),
            smartcard: None,
            csr_items: Vec::new(),
            server_key_items: vec![
                CertItem {
                    template_common_name: "CMUserServerKey",
                    friendly_name: "Server-generated user key",
                    key_size: 256,
                    key_usages: 3,
                    is_key_history: false,
                },
                CertItem {
                    template_common_name: "CMUserEncryptionHistory",
                    friendly_name: "Archived encryption key",
                    key_size: 256,
                    key_usages: 1,
                    is_key_history: true,
                },
            ],
        },
    ]
}

/// GET /profiletemplates[?targetuser=current]
pub(crate) fn list(ctx: &mut Ctx) -> Reply {
    Ok(list_or_204(
        ctx.state
            .templates
            .iter()
            .map(|t| ordered_json(&t.limited_view()))
            .collect(),
    ))
}

/// GET /profiletemplates/{tid}/policies/{type} and /profiletemplates/{tid}/policy/workflow/{type}
pub(crate) fn policy(ctx: &mut Ctx) -> Reply {
    let tid = ctx.guid("tid")?;
    let t = RequestType::from_policy_name(ctx.param("type"))
        .ok_or_else(|| bad(&format!("Unknown policy type '{}'.", ctx.param("type"))))?;
    Ok(match ctx.state.template(tid) {
        Some(tpl) => object(&tpl.policy_fields(t)),
        None => Response::empty(204),
    })
}

/// GET /profiletemplates/{tid}/configuration/smartcards (204 for unknown and software templates).
pub(crate) fn smartcard_config(ctx: &mut Ctx) -> Reply {
    let tid = ctx.guid("tid")?;
    Ok(
        match ctx
            .state
            .template(tid)
            .and_then(|t| t.smartcard_config_fields())
        {
            Some(f) => object(&f),
            None => Response::empty(204),
        },
    )
}
