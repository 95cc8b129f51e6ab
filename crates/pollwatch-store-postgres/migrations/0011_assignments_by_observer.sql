-- An observer's own stations (the app's first request, 30,000 phones at
-- 07:00) are read by (group, observer): with only `assignments_group` the
-- planner walked the whole group's assignments to find them. The new
-- index leads with the group too, so it also serves every read by group.
CREATE INDEX assignments_group_observer ON assignments (group_id, observer_id, station_id);
DROP INDEX assignments_group;

-- Who covers a station, in a group (the station page): by station, then
-- group, so the planner never prefers walking the group's index.
DROP INDEX assignments_station;
CREATE INDEX assignments_station ON assignments (station_id, group_id, observer_id);
