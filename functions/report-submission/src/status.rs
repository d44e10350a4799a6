//! Where a report stands ([`Status`]), what its history records ([`Step`]), and the two
//! Open311 statuses ([`Open311`]): each with its one text, as stored in the `reports`
//! database and served in JSON.
//!
//! `received -> in_progress -> resolved`, or `rejected` from either open status; `resolved`
//! and `rejected` are final. The schema's `CHECK` on `reports.status` lists the same texts
//! (a test holds the two together).

use civic::Error;

/// A report's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Filed (or reassigned), not yet taken up by its agency.
    Received,
    /// Taken up by its agency.
    InProgress,
    /// Done (final); its reporter may rate it.
    Resolved,
    /// Refused with a reason (final).
    Rejected,
}

/// (status, text, Vietnamese label for an SMS)
const STATUSES: [(Status, &str, &str); 4] = [
    (Status::Received, "received", "Đã tiếp nhận"),
    (Status::InProgress, "in_progress", "Đang xử lý"),
    (Status::Resolved, "resolved", "Đã xử lý xong"),
    (Status::Rejected, "rejected", "Không xử lý"),
];

impl Status {
    /// Every status, in the order of the lifecycle.
    pub const ALL: [Status; 4] = [Status::Received, Status::InProgress, Status::Resolved, Status::Rejected];

    /// The open statuses: the agency still owes an answer, the due time runs.
    pub const OPEN: [Status; 2] = [Status::Received, Status::InProgress];

    /// The final statuses.
    pub const CLOSED: [Status; 2] = [Status::Resolved, Status::Rejected];

    /// The status a text names (`in_progress`), exactly.
    pub fn parse(text: &str) -> Option<Status> {
        STATUSES.iter().find(|(_, t, _)| *t == text).map(|(s, _, _)| *s)
    }

    /// Its text, as stored and served: `received`, `in_progress`, `resolved`, `rejected`.
    pub fn as_str(self) -> &'static str {
        STATUSES.iter().find(|(s, _, _)| *s == self).map_or("", |(_, t, _)| t)
    }

    /// Its Vietnamese label, for an SMS reply (`Đang xử lý`).
    pub fn label_vi(self) -> &'static str {
        STATUSES.iter().find(|(s, _, _)| *s == self).map_or("", |(_, _, vi)| vi)
    }

    /// Received or in progress.
    pub fn is_open(self) -> bool {
        Status::OPEN.contains(&self)
    }

    /// Whether an officer may move a report from this status to `to`.
    pub fn can_move_to(self, to: Status) -> bool {
        matches!(
            (self, to),
            (Status::Received, Status::InProgress | Status::Resolved | Status::Rejected)
                | (Status::InProgress, Status::Resolved | Status::Rejected)
        )
    }

    /// The Open311 status it shows as.
    pub fn open311(self) -> Open311 {
        if self.is_open() { Open311::Open } else { Open311::Closed }
    }

    /// The status a stored text names; an unknown text is a broken database, not bad input.
    pub fn stored(text: &str) -> Result<Status, Error> {
        Status::parse(text).ok_or_else(|| Error::Internal(format!("unknown report status {text:?}")))
    }

    /// A JSON array of the statuses' texts (`["received","in_progress"]`), to bind as one
    /// SQL parameter read with `json_each`.
    pub fn json_list(statuses: &[Status]) -> String {
        let texts: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        serde_json::to_string(&texts).unwrap_or_else(|_| "[]".to_owned())
    }
}

/// What one history event records: the status the report moved to, or a move to another
/// agency (the report is `received` again then).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    To(Status),
    Reassigned,
}

const REASSIGNED: &str = "reassigned";

impl Step {
    /// The text in `report_events.status`: a [`Status`] text, or `reassigned`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::To(s) => s.as_str(),
            Step::Reassigned => REASSIGNED,
        }
    }

    /// The step a stored text names; an unknown text is a broken database.
    pub fn stored(text: &str) -> Result<Step, Error> {
        if text == REASSIGNED { Ok(Step::Reassigned) } else { Status::stored(text).map(Step::To) }
    }
}

/// The two statuses of Open311 GeoReport v2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open311 {
    Open,
    Closed,
}

impl Open311 {
    /// `open` or `closed`, exactly.
    pub fn parse(text: &str) -> Option<Open311> {
        match text {
            "open" => Some(Open311::Open),
            "closed" => Some(Open311::Closed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Open311::Open => "open",
            Open311::Closed => "closed",
        }
    }

    /// The report statuses it covers.
    pub fn statuses(self) -> [Status; 2] {
        match self {
            Open311::Open => Status::OPEN,
            Open311::Closed => Status::CLOSED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_text_each() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(Step::stored(s.as_str()).unwrap(), Step::To(s));
            assert!(s.open311().statuses().contains(&s));
            assert!(!s.label_vi().is_empty());
        }
        assert_eq!(Step::stored("reassigned").unwrap(), Step::Reassigned);
        assert!(Status::stored("done").is_err());
        assert_eq!(Status::parse("open"), None);
        assert_eq!(Open311::parse("closed"), Some(Open311::Closed));
        assert_eq!(Status::json_list(&Status::OPEN), r#"["received","in_progress"]"#);
    }

    #[test]
    fn the_schema_allows_exactly_these() {
        let schema = include_str!("../../../migrations/reports/0001_reports.sql");
        let check = "CHECK (status IN (";
        let at = schema.find(check).unwrap() + check.len();
        let list = &schema[at..at + schema[at..].find("))").unwrap()];
        let texts: Vec<&str> = list.split(',').map(|t| t.trim().trim_matches('\'')).collect();
        assert_eq!(texts, Status::ALL.map(Status::as_str));
    }

    #[test]
    fn lifecycle() {
        use Status::*;
        assert!(Received.can_move_to(Resolved) && InProgress.can_move_to(Rejected));
        assert!(!Resolved.can_move_to(InProgress) && !Rejected.can_move_to(Resolved));
        assert!(!InProgress.can_move_to(InProgress) && !Received.can_move_to(Received));
        assert!(Received.is_open() && !Resolved.is_open());
    }
}
