//! The saved calendar feed: its address (a secret), whether to refresh it automatically,
//! and when it was last read. Kept in the identity store, on this device only; removing it
//! deletes the row at once (the stores run with `secure_delete`, so the freed page is
//! overwritten). Setting, changing and removing are audited without the address.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::fetch::feed_url;
use crate::audit::Action;
use crate::error::Result;
use crate::vault::Vault;

/// The feed as the app may show it: the host, never the address.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct FeedSettings {
    pub connected: bool,
    /// e.g. `calendar.google.com`.
    pub host: Option<String>,
    pub auto_refresh: bool,
    pub last_refreshed: Option<DateTime<Utc>>,
}

impl Vault {
    /// Saves the feed address (checked: https:// or webcal:// only), replacing any other.
    pub fn set_calendar_feed(&mut self, address: &str) -> Result<FeedSettings> {
        let url = feed_url(address)?;
        self.act(Action::CalendarFeedSet, |cx| {
            cx.tx.execute(
                "INSERT INTO identity.calendar_feed (id, url, auto_refresh, connected_at) VALUES (1, ?1, 0, ?2)
                 ON CONFLICT(id) DO UPDATE SET url = excluded.url, connected_at = excluded.connected_at, last_refreshed = NULL",
                params![url.as_str(), cx.now],
            )?;
            read_settings(cx.tx)
        })
    }

    /// Deletes the feed address. Refused (nothing to do) when none is saved.
    pub fn remove_calendar_feed(&mut self) -> Result<()> {
        self.act(Action::CalendarFeedRemove, |cx| {
            let n = cx.tx.execute("DELETE FROM identity.calendar_feed", [])?;
            if n == 0 {
                return Err(crate::CoreError::invalid(
                    "no calendar feed is connected: nothing was removed",
                ));
            }
            Ok(())
        })
    }

    /// Turns the automatic refresh on or off.
    pub fn set_calendar_auto_refresh(&mut self, on: bool) -> Result<FeedSettings> {
        self.act(Action::CalendarFeedSettings, |cx| {
            let n = cx
                .tx
                .execute("UPDATE identity.calendar_feed SET auto_refresh = ?1", [on])?;
            if n == 0 {
                return Err(crate::CoreError::invalid(
                    "no calendar feed is connected: connect one first",
                ));
            }
            cx.detail(format!("auto_refresh={on}"));
            read_settings(cx.tx)
        })
    }

    /// The feed settings (no address). Not audited: it reveals no record.
    pub fn calendar_feed(&self) -> Result<FeedSettings> {
        read_settings(&self.conn)
    }

    /// The saved address, to fetch it. Audited as the start of a refresh.
    pub fn calendar_feed_address(&mut self) -> Result<String> {
        self.act(Action::CalendarRefresh, |cx| {
            let url: Option<String> = cx
                .tx
                .query_row(
                    "SELECT url FROM identity.calendar_feed WHERE id = 1",
                    [],
                    |r| r.get(0),
                )
                .optional()?;
            let url = url.ok_or_else(|| {
                crate::CoreError::invalid(
                    "no calendar feed is connected: set one with `casebook calendar feed set URL`",
                )
            })?;
            cx.tx.execute(
                "UPDATE identity.calendar_feed SET last_refreshed = ?1",
                params![cx.now],
            )?;
            Ok(url)
        })
    }
}

fn read_settings(conn: &rusqlite::Connection) -> Result<FeedSettings> {
    let row: Option<(String, bool, Option<DateTime<Utc>>)> = conn
        .query_row(
            "SELECT url, auto_refresh, last_refreshed FROM identity.calendar_feed WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(match row {
        None => FeedSettings::default(),
        Some((url, auto_refresh, last_refreshed)) => FeedSettings {
            connected: true,
            host: reqwest::Url::parse(&url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string)),
            auto_refresh,
            last_refreshed,
        },
    })
}
