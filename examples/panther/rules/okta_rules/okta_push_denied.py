# RuleAtlas example rule (our own).
PUSH_EVENTS = {"user.mfa.okta_verify.deny_push", "system.push.send_factor_verify_push"}


def rule(event):
    actor = event.deep_get("actor", "alternateId", default="")
    if actor.endswith("@test.example.com"):
        return False
    return event.get("eventType") in PUSH_EVENTS and event.deep_get("outcome", "result") == "FAILURE"


def title(event):
    return f"Okta push denied for {event.deep_get('actor', 'alternateId')}"
