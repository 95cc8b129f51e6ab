-- Other servers over this database learn that a group's log grew: every
-- stored event notifies 'pollwatch_events' with its group id, delivered
-- when the transaction commits. PostgreSQL folds identical notifications
-- of one transaction into one, so a batch of a thousand reports of one
-- group costs one notification, not a thousand. The payload is only the
-- group id: listeners read the events themselves, by log position, so a
-- lost notification delays an update (until the poll) but loses nothing.
CREATE FUNCTION pollwatch_notify_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pollwatch_events', NEW.group_id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify
AFTER INSERT ON events
FOR EACH ROW EXECUTE FUNCTION pollwatch_notify_event();
