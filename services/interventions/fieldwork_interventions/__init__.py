SERVICE_NAME = "interventions"
