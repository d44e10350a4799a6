//! POST /food-safety/command
//!
//! The `ATTP` commands of every channel, on the contract of [`civic::command`]: a signed
//! [`Command`] in (`X-Signature`, HMAC-SHA256 of the body with `internal_secret`; at most
//! [`civic::command::MAX_BODY`] bytes), `200 {"reply", "choices"}` ([`Reply`]) out; 401 for a
//! bad signature, 400 for a body that is not a command, 413 past the cap, 422 naming every
//! bad field, 500 without `internal_secret`, 503 when the database fails. The SMS webhook
//! ([`crate::sms::post`]) answers through [`answer`] too.
//!
//! What a message gets ([`answer`]):
//!
//! | message | `sms` | `zalo`, `telegram` |
//! |---|---|---|
//! | `ATTP <tên cơ sở>[, <quận/phường>]`, one clear match | [`crate::sms::detail`] | [`crate::chat::detail`] |
//! | … several alike ([`crate::rank::DECISIVE`]) | [`crate::sms::list`] (3) | [`crate::chat::list`]: buttons for the best 5 |
//! | `ATTP <n>` | the `n`th of the sender's last list (1 to 3) | the same (1 to 5) |
//! | `ATTP #<id>` | (a name search) | that establishment |
//! | a location, with no text or a text that is no `ATTP` command | (ignored) | [`crate::chat::nearby`]: within 1 km, certified first, 5 at most, as buttons |
//! | anything else | [`crate::sms::help`] | [`crate::chat::help`] |
//!
//! A button's value is `ATTP #<id>`. The last list a sender got (by name or by location) is
//! kept for [`CHOICE_MINUTES`] minutes (table `choices`, by channel and a keyed hash of the
//! sender: for SMS, the phone number's digits), so that `ATTP <n>` picks from it. A repeated
//! command (same `id`) only rewrites that list with the same places. The tick forgets lists
//! older than a day ([`CONVERSATIONS`]).

use bytes::Bytes;
use chrono::NaiveDate;
use civic::command::{Channel, Command, Location, Reply};
use civic::{Error, Platform};
use http::{Request, Response};

use crate::phrase::Item;
use crate::search::{self, Found};
use crate::store::{self, DB, Summary};
use crate::{chat, sms};

/// The keyword, folded.
pub const KEYWORD: &str = "attp";

/// How long `ATTP <n>` can pick from the last list, in minutes.
pub const CHOICE_MINUTES: i64 = 10;

/// The senders' last lists (tables `choices` and the legacy `sms_choices`, by `at`), as a
/// retention kind: conversation state (setting `retention_conversations`, default `1d`):
/// which places a pseudonymous sender (a keyed hash of the phone number or chat id) was
/// offered, and when. A list is only good for [`CHOICE_MINUTES`] minutes, so a day is
/// plenty; the minimum, an hour, keeps every list `ATTP <n>` can still pick from. The legacy
/// `sms_choices` is no longer written (migration 0005 copied it into `choices`).
pub const CONVERSATIONS: civic::retention::Kind = civic::retention::Kind {
    name: "conversations",
    purged: "conversations_purged",
    default: "1d",
    minimum: "1h",
    holds: "the last list of places each sender (a keyed hash of the phone number or chat id) was offered",
    oldest: "SELECT min(at) AS oldest FROM
                 (SELECT min(at) AS at FROM choices UNION ALL SELECT min(at) AS at FROM sms_choices)",
    purge: &[
        "DELETE FROM choices WHERE (channel, user_hash) IN
             (SELECT channel, user_hash FROM choices WHERE at < ?1 ORDER BY at LIMIT ?2) RETURNING 1",
        "DELETE FROM sms_choices WHERE phone_hash IN
             (SELECT phone_hash FROM sms_choices WHERE at < ?1 ORDER BY at LIMIT ?2) RETURNING 1",
    ],
};

/// The route: [`civic::command::serve`] (size, signature, parsing, validation: see the
/// module docs for the statuses) around [`answer`], the SMS help quoting
/// [`civic::sms::SHORT_CODE`].
pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::command::serve(req, env, async |cmd: &Command| answer(env, cmd, civic::sms::SHORT_CODE).await).await
}

/// A parsed `ATTP` message.
#[derive(Debug, PartialEq, Eq)]
pub enum Ask {
    /// What was asked (the folded words after the keyword), and its search items.
    Lookup {
        asked: String,
        items: Vec<Item>,
    },
    /// `ATTP 2`: the second entry of the last list.
    Pick(usize),
    /// `ATTP #DN-000123` (chat): that establishment.
    Show(String),
    /// More than [`crate::phrase::MAX_WORDS`] words after the keyword.
    TooLong,
    Help,
}

/// How many places a list on `channel` offers: what `ATTP <n>` can pick.
pub fn list_len(channel: Channel) -> usize {
    if channel.is_chat() { chat::LIST_LEN } else { sms::LIST_LEN }
}

/// Reads a message: the keyword `ATTP` (any case, diacritics and punctuation ignored) then a
/// number from 1 to [`list_len`] (a pick), `#<id>` on chat (a place by id), or a name; a
/// name of more than [`crate::phrase::MAX_WORDS`] words is [`Ask::TooLong`]; anything else
/// is [`Ask::Help`].
pub fn parse(text: &str, channel: Channel) -> Ask {
    let (keyword, rest) = civic::sms::keyword(text);
    if keyword != KEYWORD {
        return Ask::Help;
    }
    if let Ok(n) = rest.trim().parse::<usize>()
        && (1..=list_len(channel)).contains(&n)
    {
        return Ask::Pick(n);
    }
    if channel.is_chat()
        && let Some(id) = rest.strip_prefix('#').map(str::trim)
        && !id.is_empty()
    {
        return Ask::Show(id.to_owned());
    }
    if crate::phrase::too_long(rest) {
        return Ask::TooLong;
    }
    let items = crate::phrase::parse(rest);
    if items.is_empty() {
        return Ask::Help;
    }
    Ask::Lookup { asked: civic::text::words(rest).join(" "), items }
}

/// The answer to `cmd`, written for its channel. `short_code` is the one an SMS was sent to
/// (quoted by the SMS help text). Errors: [`Error::Unavailable`] when the database fails.
pub async fn answer(env: &impl Platform, cmd: &Command, short_code: &str) -> Result<Reply, Error> {
    let channel = cmd.channel;
    let chat = channel.is_chat();
    let today = civic::web::vn_today(env.now());
    let ask = parse(&cmd.text, channel);
    if let (true, Some(at), Ask::Help) = (chat, cmd.location, &ask) {
        return nearby(env, cmd, at, today).await;
    }
    let say = |sms_text: String, chat_text: fn() -> String| Reply::text(if chat { chat_text() } else { sms_text });
    Ok(match ask {
        Ask::Help => say(sms::help(short_code), chat::help),
        Ask::TooLong => say(sms::too_long(), chat::too_long),
        Ask::Show(id) => {
            let found = if id.len() <= crate::model::MAX_ID { store::summary_of(env, &id).await? } else { None };
            match found {
                Some(s) => detail(channel, &s, today),
                None => Reply::for_channel(channel, &chat::unknown_id(&id)),
            }
        }
        Ask::Pick(n) => {
            let list = last_list(env, channel, &cmd.user).await?;
            match list.as_ref().and_then(|ids| n.checked_sub(1).and_then(|i| ids.get(i))) {
                Some(id) => match store::summary_of(env, id).await? {
                    Some(s) => detail(channel, &s, today),
                    None => say(sms::gone(), chat::gone),
                },
                None if chat => Reply::text(chat::no_list(n, list.map(|l| l.len()))),
                None => Reply::text(sms::no_list(n)),
            }
        }
        Ask::Lookup { asked, items } => lookup(env, cmd, &asked, &items, today).await?,
    })
}

/// One place in full.
fn detail(channel: Channel, s: &Summary, today: NaiveDate) -> Reply {
    Reply::text(if channel.is_chat() { chat::detail(s, today) } else { sms::detail(s, today) })
}

/// What the citizen wrote after the keyword, spaces collapsed (chat texts echo it).
fn asked_as_written(text: &str) -> String {
    civic::sms::keyword(text).1.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `ATTP <name>`: the best match in full, or, when several match alike, the list to pick from
/// (kept as the sender's last list).
async fn lookup(
    env: &impl Platform,
    cmd: &Command,
    asked: &str,
    items: &[Item],
    today: NaiveDate,
) -> Result<Reply, Error> {
    let chat = cmd.channel.is_chat();
    let Found { ranked, total } = search::find(env, items, None).await?;
    Ok(match ranked.as_slice() {
        [] if chat => Reply::text(chat::not_found(&asked_as_written(&cmd.text))),
        [] => Reply::text(sms::not_found(asked)),
        [(_, only)] => detail(cmd.channel, only, today),
        [(top, best), (second, _), ..] if top - second >= crate::rank::DECISIVE => detail(cmd.channel, best, today),
        many => {
            let top: Vec<&Summary> = many.iter().take(list_len(cmd.channel)).map(|(_, s)| s).collect();
            let (reply, shown) = if chat {
                let (text, choices) = chat::list(&top, total, &asked_as_written(&cmd.text));
                (Reply::text(text).with_choices(choices), top.len())
            } else {
                let (text, shown) = sms::list(&top, total, today);
                (Reply::text(text), shown)
            };
            let ids: Vec<&str> = top.iter().take(shown).map(|s| s.establishment.id.as_str()).collect();
            remember(env, cmd.channel, &cmd.user, &ids).await?;
            reply
        }
    })
}

/// The places within [`chat::NEAR_RADIUS_M`] of a shared location, certified first, at most
/// [`chat::LIST_LEN`].
async fn nearby(env: &impl Platform, cmd: &Command, at: Location, today: NaiveDate) -> Result<Reply, Error> {
    let found = crate::nearby::find(env, at, chat::NEAR_RADIUS_M, chat::LIST_LEN, Some(today)).await?;
    if found.places.is_empty() {
        return Ok(Reply::text(chat::none_nearby()));
    }
    let ids: Vec<&str> = found.places.iter().map(|(_, s)| s.establishment.id.as_str()).collect();
    remember(env, cmd.channel, &cmd.user, &ids).await?;
    let (text, choices) = chat::nearby(&found.places, found.total, today);
    Ok(Reply::text(text).with_choices(choices))
}

/// The sender's key in `choices`: a keyed hash (HMAC-SHA256 with `sms_webhook_secret`, else
/// `internal_secret`) of the phone number's digits for SMS, of the chat id otherwise, so
/// that the food database holds neither.
fn user_key(env: &impl Platform, channel: Channel, user: &str) -> String {
    let who: String =
        if channel.is_chat() { user.trim().to_owned() } else { user.chars().filter(char::is_ascii_digit).collect() };
    let key = ["sms_webhook_secret", "internal_secret"]
        .into_iter()
        .find_map(|k| env.config(k).filter(|v| !v.is_empty()))
        .unwrap_or_default();
    civic::auth::hmac_sha256_hex(key.as_bytes(), who.as_bytes())
}

/// Keeps `ids` as the sender's last list.
async fn remember(env: &impl Platform, channel: Channel, user: &str, ids: &[&str]) -> Result<(), Error> {
    let ids = serde_json::to_string(ids).map_err(|e| Error::Internal(e.to_string()))?;
    let at = civic::web::stamp(env.now());
    env.execute(
        DB,
        "INSERT INTO choices (channel, user_hash, ids, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (channel, user_hash) DO UPDATE SET ids = excluded.ids, at = excluded.at",
        &[channel.as_str().into(), user_key(env, channel, user).into(), ids.into(), at.into()],
    )
    .await?;
    Ok(())
}

/// The sender's last list, if they got one in the last [`CHOICE_MINUTES`] minutes.
async fn last_list(env: &impl Platform, channel: Channel, user: &str) -> Result<Option<Vec<String>>, Error> {
    let since = civic::web::stamp(env.now() - chrono::Duration::minutes(CHOICE_MINUTES));
    let rows = env
        .query(
            DB,
            "SELECT ids FROM choices WHERE channel = ?1 AND user_hash = ?2 AND at >= ?3",
            &[channel.as_str().into(), user_key(env, channel, user).into(), since.into()],
        )
        .await?;
    let Some(r) = rows.first() else { return Ok(None) };
    Ok(Some(serde_json::from_str(r.str("ids")?).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let lookup = |asked: &str| Ask::Lookup { asked: asked.to_owned(), items: crate::phrase::parse(asked) };
        let (s, z, t) = (Channel::Sms, Channel::Zalo, Channel::Telegram);
        let cases = [
            (z, "ATTP phở bà hoa", lookup("pho ba hoa")),
            (t, "/attp Phở Bà Hoa, Hải Châu", lookup("pho ba hoa hai chau")),
            (z, "ATTP 5", Ask::Pick(5)),
            (s, "ATTP 5", lookup("5")),
            (s, "ATTP 3", Ask::Pick(3)),
            (z, "ATTP 6", lookup("6")),
            (z, "ATTP 0", lookup("0")),
            (z, "ATTP #DN-000123", Ask::Show("DN-000123".into())),
            (t, "attp  # DN-000123 ", Ask::Show("DN-000123".into())),
            (z, "ATTP #", Ask::Help),
            (s, "ATTP #DN-000123", lookup("dn 000123")),
            (z, "ATTP", Ask::Help),
            (z, "", Ask::Help),
            (z, "xin chào", Ask::Help),
            (t, "HS 000.00.19.H57-241105-0012", Ask::Help),
            (z, &format!("ATTP {}", ["pho"; 21].join(" ")), Ask::TooLong),
        ];
        for (channel, text, want) in cases {
            assert_eq!(parse(text, channel), want, "{channel:?} {text:?}");
        }
    }

    #[test]
    fn asked_as_written_keeps_the_diacritics() {
        assert_eq!(asked_as_written("  ATTP   Phở  Bà Hoa, Hải Châu "), "Phở Bà Hoa, Hải Châu");
        assert_eq!(asked_as_written("ATTP"), "");
    }

    /// The sender's key: one per phone number however it is written, one per chat id, and
    /// the same whichever route (webhook or command) an SMS came through.
    #[test]
    fn user_keys_hide_who_sent() {
        let env = civic::platform::native::NativePlatform::in_memory(&[]).with_config("sms_webhook_secret", "k");
        let sms_key = user_key(&env, Channel::Sms, "84905123456");
        assert_eq!(sms_key, user_key(&env, Channel::Sms, "+84 905 123 456"));
        assert_eq!(sms_key, civic::auth::hmac_sha256_hex(b"k", b"84905123456"), "as sms_choices had it");
        assert!(!sms_key.contains("905"));
        assert_eq!(
            user_key(&env, Channel::Zalo, " 2468458835296117922 "),
            user_key(&env, Channel::Zalo, "2468458835296117922")
        );
        let internal = civic::platform::native::NativePlatform::in_memory(&[]).with_config("internal_secret", "i");
        assert_eq!(user_key(&internal, Channel::Telegram, "42"), civic::auth::hmac_sha256_hex(b"i", b"42"));
    }
}
