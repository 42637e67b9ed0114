SERVICE_NAME = "gateway"
