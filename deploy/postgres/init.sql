-- Run once by the postgres image on first start (empty data volume).
-- One role and one database per Fieldwork service; each role owns its database.
CREATE ROLE requests LOGIN PASSWORD 'requests';
CREATE DATABASE fieldwork_requests OWNER requests;

CREATE ROLE interventions LOGIN PASSWORD 'interventions';
CREATE DATABASE fieldwork_interventions OWNER interventions;

CREATE ROLE timeclock LOGIN PASSWORD 'timeclock';
CREATE DATABASE fieldwork_timeclock OWNER timeclock;

CREATE ROLE notifications LOGIN PASSWORD 'notifications';
CREATE DATABASE fieldwork_notifications OWNER notifications;

CREATE ROLE gateway LOGIN PASSWORD 'gateway';
CREATE DATABASE fieldwork_gateway OWNER gateway;
