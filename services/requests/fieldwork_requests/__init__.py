SERVICE_NAME = "requests"
