SERVICE_NAME = "notifications"
