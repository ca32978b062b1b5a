//! The CM enums besides `RequestStatus`: request types and smart card (and profile) statuses.
//! Names as in `Microsoft.Clm.Shared`; numbers as fixed by the issue-10 contract (only Enroll 1, Unblock 5
//! and Retired 6 are documented examples, the rest is the emulator's choice).

use std::fmt;

/// Type of a CM request (`RequestType` in JSON responses, `type` by name in `POST /requests`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestType {
    Enroll,
    Duplicate,
    OnlineUpdate,
    Retire,
    Unblock,
    Revoke,
    Renew,
    Recover,
    RecoverOnBehalf,
    Reinstate,
    TemporaryCards,
    OfflineUnblock,
}

impl RequestType {
    /// Every type, in numeric order of [`RequestType::code`].
    pub const ALL: [RequestType; 12] = [
        RequestType::Enroll,
        RequestType::Duplicate,
        RequestType::OnlineUpdate,
        RequestType::Retire,
        RequestType::Unblock,
        RequestType::Revoke,
        RequestType::Renew,
        RequestType::Recover,
        RequestType::RecoverOnBehalf,
        RequestType::Reinstate,
        RequestType::TemporaryCards,
        RequestType::OfflineUnblock,
    ];

    /// The number used in JSON responses (Enroll 1 ... OfflineUnblock 12).
    pub fn code(self) -> u32 {
        RequestType::ALL
            .iter()
            .position(|t| *t == self)
            .map_or(0, |i| i as u32 + 1)
    }

    pub fn from_code(code: u32) -> Option<RequestType> {
        RequestType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The .NET member name (`"Enroll"`).
    pub fn name(self) -> &'static str {
        match self {
            RequestType::Enroll => "Enroll",
            RequestType::Duplicate => "Duplicate",
            RequestType::OnlineUpdate => "OnlineUpdate",
            RequestType::Retire => "Retire",
            RequestType::Unblock => "Unblock",
            RequestType::Revoke => "Revoke",
            RequestType::Renew => "Renew",
            RequestType::Recover => "Recover",
            RequestType::RecoverOnBehalf => "RecoverOnBehalf",
            RequestType::Reinstate => "Reinstate",
            RequestType::TemporaryCards => "TemporaryCards",
            RequestType::OfflineUnblock => "OfflineUnblock",
        }
    }

    /// Parses a request type name, case-insensitively.
    pub fn from_name(name: &str) -> Option<RequestType> {
        let n = name.trim();
        RequestType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(n))
    }

    /// The name in `/profiletemplates/{id}/policies/{type}` (`TemporaryEnroll` for `TemporaryCards`).
    pub fn policy_name(self) -> &'static str {
        match self {
            RequestType::TemporaryCards => "TemporaryEnroll",
            t => t.name(),
        }
    }

    /// Parses a policy type name: the request type names, with `TemporaryEnroll` for `TemporaryCards`
    /// (`TemporaryCards` is accepted too).
    pub fn from_policy_name(name: &str) -> Option<RequestType> {
        if name.trim().eq_ignore_ascii_case("TemporaryEnroll") {
            return Some(RequestType::TemporaryCards);
        }
        RequestType::from_name(name)
    }

    /// Types that act on an existing smart card (named by `smartcard` in `POST /requests`).
    pub fn acts_on_existing_card(self) -> bool {
        !matches!(self, RequestType::Enroll | RequestType::TemporaryCards)
    }

    /// Types whose execution issues certificates (`certificaterequestgenerationoptions`/`certificatedata`).
    pub fn issues_certificates(self) -> bool {
        matches!(
            self,
            RequestType::Enroll
                | RequestType::Duplicate
                | RequestType::Renew
                | RequestType::TemporaryCards
                | RequestType::OnlineUpdate
        )
    }

    /// The lowercase operation name of `/smartcards/{id}/operations` (`"renew"`).
    pub fn operation_name(self) -> String {
        self.name().to_ascii_lowercase()
    }
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RequestType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RequestType::from_name(s).ok_or_else(|| format!("unknown request type {s:?}"))
    }
}

/// Status of a smart card (`Smartcard.Status`), also used for profiles (`Profile.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmartcardStatus {
    None,
    New,
    Assigned,
    Active,
    Suspended,
    Disabled,
    Retired,
}

impl SmartcardStatus {
    pub const ALL: [SmartcardStatus; 7] = [
        SmartcardStatus::None,
        SmartcardStatus::New,
        SmartcardStatus::Assigned,
        SmartcardStatus::Active,
        SmartcardStatus::Suspended,
        SmartcardStatus::Disabled,
        SmartcardStatus::Retired,
    ];

    /// The number used in JSON responses (Assigned 2, Active 3, Retired 6, ...).
    pub fn code(self) -> u32 {
        SmartcardStatus::ALL
            .iter()
            .position(|s| *s == self)
            .map_or(0, |i| i as u32)
    }

    pub fn from_code(code: u32) -> Option<SmartcardStatus> {
        SmartcardStatus::ALL.get(code as usize).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            SmartcardStatus::None => "None",
            SmartcardStatus::New => "New",
            SmartcardStatus::Assigned => "Assigned",
            SmartcardStatus::Active => "Active",
            SmartcardStatus::Suspended => "Suspended",
            SmartcardStatus::Disabled => "Disabled",
            SmartcardStatus::Retired => "Retired",
        }
    }

    pub fn from_name(name: &str) -> Option<SmartcardStatus> {
        let n = name.trim();
        SmartcardStatus::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(n))
    }
}

impl fmt::Display for SmartcardStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SmartcardStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SmartcardStatus::from_name(s).ok_or_else(|| format!("unknown smart card status {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_the_contract() {
        assert_eq!(RequestType::Enroll.code(), 1);
        assert_eq!(RequestType::Unblock.code(), 5);
        assert_eq!(RequestType::OfflineUnblock.code(), 12);
        for t in RequestType::ALL {
            assert_eq!(RequestType::from_code(t.code()), Some(t));
            assert_eq!(RequestType::from_name(&t.name().to_lowercase()), Some(t));
            assert_eq!(RequestType::from_policy_name(t.policy_name()), Some(t));
        }
        assert_eq!(
            RequestType::from_policy_name("temporaryenroll"),
            Some(RequestType::TemporaryCards)
        );
        assert_eq!(RequestType::from_name("TemporaryEnroll"), None);
        assert_eq!(SmartcardStatus::Assigned.code(), 2);
        assert_eq!(SmartcardStatus::Active.code(), 3);
        assert_eq!(SmartcardStatus::Retired.code(), 6);
        for s in SmartcardStatus::ALL {
            assert_eq!(SmartcardStatus::from_code(s.code()), Some(s));
            assert_eq!(
                SmartcardStatus::from_name(&s.name().to_uppercase()),
                Some(s)
            );
        }
    }
}
