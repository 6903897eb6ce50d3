-- 0046: presence writes updated in place.
--
-- Every agents.presence_interval the scheduler's parent writes last_message_at of each
-- computer heard from (presence_seen): a column no index holds, so the update can be HOT
-- (heap-only: no index entry, the old version pruned from its page) when the row's page
-- has room. Rows inserted at the default fill factor (100) left none: in bench/fleet.sh
-- at 10,000 computers 4 % of those updates were HOT; each other one was a new row version
-- on another page with an entry in both indexes (the key, and the scheduler's, a value
-- that 10,000 rows share). Half of each page is kept free now, as 0030 keeps 30 % of
-- computer's: rows written from now on (every connection writes its row anew).
-- No BEGIN/COMMIT here.

ALTER TABLE pgfleet.agent_presence SET (fillfactor = 50);
