//! The bot's own database, `chat` (`migrations/chat/`): events seen, open `PA`
//! conversations, the last buttons offered, and replies waiting in the outbox (delivered by
//! [`crate::tick()`]). The notifications sent (`sends`) are [`crate::send`]'s, the rate-limit
//! windows (`rate_limits`) [`civic::limit`]'s, and how long each is kept
//! [`crate::retention`]'s.

use chrono::Duration;
use civic::command::{Choice, Location, Reply};
use civic::limit::{Count, Verdict};
use civic::platform::{Statement, Value};
use civic::web::stamp;
use civic::{Error, Platform};

/// The database label.
pub const DB: &str = "chat";

/// How long an idle `PA` conversation, and the buttons of a reply, stay usable.
pub const IDLE_MINUTES: i64 = 30;

/// Where a message came from and who sent it: `("zalo", "<sender id>")`,
/// `("telegram", "<chat id>")`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sender<'a> {
    pub channel: civic::command::Channel,
    pub user: &'a str,
}

/// How long a claim on an event holds (seconds): a retry that comes while the first handling
/// may still run is a duplicate; one that comes later, of an event never answered, is
/// answered.
pub const CLAIM_SECONDS: i64 = 30;

/// What to do with an event, by its channel id (Zalo `message.msg_id`, Telegram `update_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Answer it: it is new (stored now, with the raw event, before it is answered) and within
    /// the rate limit ([`crate::bot::RULE`]), or an earlier handling of it failed or was left
    /// unfinished.
    Answer,
    /// It is new and the message that crossed the rate limit: answer it with the one notice
    /// ([`crate::bot::too_many`]); the sender's window ends in `retry_after` seconds.
    TooMany { retry_after: u64 },
    /// It is new and over the rate limit after the notice: stored, and already marked
    /// answered (so that neither a platform's retry nor anything else answers it); no reply.
    Silent,
    /// Acknowledge and ignore it: it was answered, or is being answered now.
    Duplicate,
}

/// Claims an event for answering ([`Claim`]); [`answered`] or [`release`] follows an
/// [`Claim::Answer`] or [`Claim::TooMany`].
///
/// A new event is stored and counted against the sender's rate limit (`count`, `None` for
/// an event the bot does not answer, which is not counted) in ONE batch: the count only when
/// the insert stored a row ([`Count::statement_after_change`]), so a platform's redelivery
/// of an event is not counted again, and an event over the limit after the notice is marked
/// answered by the same batch. An event seen before and never answered is reclaimed once its
/// claim is older than [`CLAIM_SECONDS`] (a second round trip, on redeliveries only); it was
/// counted when it was stored, and is answered as within the limit.
pub async fn claim(
    env: &impl Platform,
    from: Sender<'_>,
    event_id: &str,
    body: &str,
    count: Option<&Count>,
) -> Result<Claim, Error> {
    let now = stamp(env.now());
    let key: [Value; 2] = [from.channel.as_str().into(), event_id.into()];
    let mut statements = vec![Statement::new(
        "INSERT INTO chat_events (channel, event_id, user_id, body, received_at, claimed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (channel, event_id) DO NOTHING RETURNING 1",
        vec![key[0].clone(), key[1].clone(), from.user.into(), body.into(), now.as_str().into()],
    )];
    if let Some(count) = count {
        statements.push(count.statement_after_change());
        // Over the limit after the notice (more than max + 1 counted): answered with silence.
        let mut params = vec![key[0].clone(), key[1].clone(), now.as_str().into()];
        params.extend(count.notice_gate_params());
        statements.push(Statement::new(
            format!(
                "UPDATE chat_events SET answered_at = ?3
                 WHERE channel = ?1 AND event_id = ?2 AND changes() > 0 AND NOT {}",
                count.gate(4)
            ),
            params,
        ));
    }
    let results = env.batch(DB, &statements).await?;
    if results.first().is_some_and(|stored| !stored.is_empty()) {
        let Some(count) = count else { return Ok(Claim::Answer) };
        let counted = results.get(1).ok_or_else(|| Error::Internal("chat: the count returned nothing".into()))?;
        return Ok(match count.verdict(counted)? {
            Verdict::Within => Claim::Answer,
            Verdict::Over { retry_after, first: true } => Claim::TooMany { retry_after },
            Verdict::Over { first: false, .. } => Claim::Silent,
        });
    }
    let stale = stamp(env.now() - Duration::seconds(CLAIM_SECONDS));
    let [channel, event] = key;
    let reclaimed = env
        .execute(
            DB,
            "UPDATE chat_events SET claimed_at = ?3
             WHERE channel = ?1 AND event_id = ?2 AND answered_at IS NULL AND claimed_at < ?4",
            &[channel, event, now.into(), stale.into()],
        )
        .await?;
    Ok(if reclaimed == 1 { Claim::Answer } else { Claim::Duplicate })
}

/// Marks a claimed event answered: a retry of it is a duplicate from now on.
pub async fn answered(env: &impl Platform, from: Sender<'_>, event_id: &str) -> Result<(), Error> {
    env.execute(
        DB,
        "UPDATE chat_events SET answered_at = ?3 WHERE channel = ?1 AND event_id = ?2",
        &[from.channel.as_str().into(), event_id.into(), stamp(env.now()).into()],
    )
    .await?;
    Ok(())
}

/// Gives up the claim of an event whose handling failed, so that the platform's retry
/// answers it (best effort: when this fails too, the claim lapses after [`CLAIM_SECONDS`]).
pub async fn release(env: &impl Platform, from: Sender<'_>, event_id: &str) {
    let released = env
        .execute(
            DB,
            "UPDATE chat_events SET claimed_at = '' WHERE channel = ?1 AND event_id = ?2 AND answered_at IS NULL",
            &[from.channel.as_str().into(), event_id.into()],
        )
        .await;
    if let Err(e) = released {
        civic::log::error(&format!("chat: releasing event {event_id}: {e}"));
    }
}

/// The step a `PA` conversation waits at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The text is in; the place (a location or an address) is asked for.
    Place,
    /// The place is in; photos may come, then `GUI` files it.
    Photos,
}

impl Step {
    fn as_str(self) -> &'static str {
        match self {
            Step::Place => "place",
            Step::Photos => "photos",
        }
    }
    fn parse(s: &str) -> Option<Step> {
        match s {
            "place" => Some(Step::Place),
            "photos" => Some(Step::Photos),
            _ => None,
        }
    }
}

/// An open `PA` conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    /// `<channel>:<user>:<first event id>`: the filing's idempotency id.
    pub id: String,
    pub step: Step,
    pub text: String,
    pub location: Option<Location>,
    pub address: Option<String>,
    pub media: Vec<String>,
}

/// The user's conversation, unless there is none or it was left more than
/// [`IDLE_MINUTES`] ago (it is then dropped).
pub async fn conversation(env: &impl Platform, from: Sender<'_>) -> Result<Option<Conversation>, Error> {
    let since = stamp(env.now() - Duration::minutes(IDLE_MINUTES));
    let key = [from.channel.as_str().into(), from.user.into()];
    let rows = env
        .query(
            DB,
            "SELECT id, step, text, lat, lng, address, media, updated_at FROM conversations
             WHERE channel = ?1 AND user_id = ?2",
            &key,
        )
        .await?;
    let Some(r) = rows.first() else { return Ok(None) };
    if r.str("updated_at")? < since.as_str() {
        end(env, from).await?;
        return Ok(None);
    }
    let location = match (r.opt_f64("lat")?, r.opt_f64("lng")?) {
        (Some(lat), Some(lng)) => Some(Location { lat, lng }),
        _ => None,
    };
    Ok(Some(Conversation {
        id: r.str("id")?.to_owned(),
        step: Step::parse(r.str("step")?).ok_or_else(|| Error::Internal("unknown conversation step".into()))?,
        text: r.str("text")?.to_owned(),
        location,
        address: r.opt_str("address")?.map(str::to_owned),
        media: serde_json::from_str(r.str("media")?).map_err(|e| Error::Internal(format!("media: {e}")))?,
    }))
}

/// Starts (or restarts) the user's conversation.
pub async fn start(env: &impl Platform, from: Sender<'_>, c: &Conversation) -> Result<(), Error> {
    save(env, from, c, true).await
}

/// Saves the conversation's progress.
pub async fn update(env: &impl Platform, from: Sender<'_>, c: &Conversation) -> Result<(), Error> {
    save(env, from, c, false).await
}

async fn save(env: &impl Platform, from: Sender<'_>, c: &Conversation, fresh: bool) -> Result<(), Error> {
    let now = stamp(env.now());
    let media = serde_json::to_string(&c.media).map_err(|e| Error::Internal(e.to_string()))?;
    let params = [
        from.channel.as_str().into(),
        from.user.into(),
        c.id.as_str().into(),
        c.step.as_str().into(),
        c.text.as_str().into(),
        c.location.map(|l| l.lat).into(),
        c.location.map(|l| l.lng).into(),
        c.address.clone().into(),
        media.into(),
        now.into(),
    ];
    let sql = if fresh {
        "INSERT INTO conversations (channel, user_id, id, step, text, lat, lng, address, media, started_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
         ON CONFLICT (channel, user_id) DO UPDATE SET id = excluded.id, step = excluded.step, text = excluded.text,
           lat = excluded.lat, lng = excluded.lng, address = excluded.address, media = excluded.media,
           started_at = excluded.started_at, updated_at = excluded.updated_at"
    } else {
        // only the conversation it was read as: a newer PA started meanwhile is left alone
        "UPDATE conversations SET step = ?4, text = ?5, lat = ?6, lng = ?7, address = ?8, media = ?9, updated_at = ?10
         WHERE channel = ?1 AND user_id = ?2 AND id = ?3"
    };
    env.execute(DB, sql, &params).await?;
    Ok(())
}

/// Ends the user's conversation (filed, cancelled or expired).
pub async fn end(env: &impl Platform, from: Sender<'_>) -> Result<(), Error> {
    env.execute(
        DB,
        "DELETE FROM conversations WHERE channel = ?1 AND user_id = ?2",
        &[from.channel.as_str().into(), from.user.into()],
    )
    .await?;
    Ok(())
}

/// Keeps the buttons just offered, so that a bare number picks one (none: forgets them).
pub async fn remember_choices(env: &impl Platform, from: Sender<'_>, choices: &[Choice]) -> Result<(), Error> {
    let key: [Value; 2] = [from.channel.as_str().into(), from.user.into()];
    if choices.is_empty() {
        env.execute(DB, "DELETE FROM last_choices WHERE channel = ?1 AND user_id = ?2", &key).await?;
        return Ok(());
    }
    let json = serde_json::to_string(choices).map_err(|e| Error::Internal(e.to_string()))?;
    let [channel, user] = key;
    env.execute(
        DB,
        "INSERT INTO last_choices (channel, user_id, choices, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (channel, user_id) DO UPDATE SET choices = excluded.choices, at = excluded.at",
        &[channel, user, json.into(), stamp(env.now()).into()],
    )
    .await?;
    Ok(())
}

/// The `n`th (1-based) button of the last reply, if it came in the last [`IDLE_MINUTES`].
pub async fn chosen(env: &impl Platform, from: Sender<'_>, n: usize) -> Result<Option<Choice>, Error> {
    let since = stamp(env.now() - Duration::minutes(IDLE_MINUTES));
    let rows = env
        .query(
            DB,
            "SELECT choices FROM last_choices WHERE channel = ?1 AND user_id = ?2 AND at >= ?3",
            &[from.channel.as_str().into(), from.user.into(), since.into()],
        )
        .await?;
    let Some(r) = rows.first() else { return Ok(None) };
    let choices: Vec<Choice> = serde_json::from_str(r.str("choices")?).unwrap_or_default();
    Ok(n.checked_sub(1).and_then(|i| choices.into_iter().nth(i)))
}

/// Leaves a reply that could not be sent in the outbox (status `pending`), with why: that
/// try was attempt 1, and the next is due [`crate::tick::BACKOFF_SECONDS`]`[0]` later.
pub async fn to_outbox(env: &impl Platform, from: Sender<'_>, reply: &Reply, why: &str) -> Result<String, Error> {
    let mut raw = [0u8; 16];
    env.random_bytes(&mut raw);
    let id = format!("chat-{}", hex::encode(raw));
    let body = serde_json::to_string(reply).map_err(|e| Error::Internal(e.to_string()))?;
    let now = env.now();
    let next = now + Duration::seconds(crate::tick::BACKOFF_SECONDS[0]);
    env.execute(
        DB,
        "INSERT INTO outbox (id, channel, user_id, body, status, attempts, last_error, created_at, next_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', 1, ?5, ?6, ?7)",
        &[
            id.as_str().into(),
            from.channel.as_str().into(),
            from.user.into(),
            body.into(),
            why.into(),
            stamp(now).into(),
            stamp(next).into(),
        ],
    )
    .await?;
    Ok(id)
}
