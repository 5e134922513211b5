from panther_base_helpers import deep_get

SUSPICIOUS = {"ConsoleLogin", "StopLogging"}


def rule(event):
    if event.get("eventSource") != "signin.amazonaws.com":
        return False
    return event.get("eventName") in SUSPICIOUS and deep_get(event, "responseElements", "ConsoleLogin") == "Success"


def title(event):
    return f"Login by {event.udm('actor_user')}"
