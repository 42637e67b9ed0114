SERVICE_NAME = "timeclock"
