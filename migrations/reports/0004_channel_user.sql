-- Who filed a report over a chat bot or SMS (issue 15), so that a later change can message
-- that person back on the same channel: the sender's id on `reports.channel` (Zalo user id,
-- Telegram chat id, the phone number for SMS). NULL for reports filed from the app or
-- Open311. Personal data: never shown in public views, lists or Open311.
ALTER TABLE reports ADD COLUMN channel_user TEXT;
