"""A stand-in for the interventions service, for the tests that run
notifications alone and feed it events of interventions that exist nowhere:
it answers the one RPC notifications makes, `issue_tracking_token`."""
from datetime import datetime, timedelta, timezone

from nameko.rpc import rpc


class InterventionsStub:
    name = "interventions"

    @rpc
    def issue_tracking_token(self, intervention_id):
        token = f"stub-{intervention_id}"
        expires = datetime.now(timezone.utc) + timedelta(days=90)
        return {"token": token, "url_path": f"/track/{token}",
                "expires_at": expires.isoformat().replace("+00:00", "Z")}

    @rpc
    def health(self):
        return {"service": "interventions", "status": "ok"}
