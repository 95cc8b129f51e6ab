-- Who covers a station: the station's page and the coordinators' "who is
-- where" read assignments by station, not only by observer.
CREATE INDEX assignments_station ON assignments (station_id);
