-- The number observers text: the gateway phone's own SIM, the group's and
-- nobody's personal number (observers' numbers are never stored). The app
-- offers it when the alarm cannot leave over mobile data, and the card
-- prints it.
ALTER TABLE sms_gateways ADD COLUMN phone TEXT;
-- A group's gateways not revoked (few, whatever its history).
CREATE INDEX sms_gateways_group ON sms_gateways (group_id, revoked_at, id);
