# RuleAtlas example rule (our own).
def rule(event):
    if event.get("eventSource") != "signin.amazonaws.com":
        return False
    if event.get("eventName") != "ConsoleLogin":
        return False
    mfa_used = event.deep_get("additionalEventData", "MFAUsed") == "Yes"
    failed = event.deep_get("responseElements", "ConsoleLogin") == "Failure"
    return mfa_used and failed and event.get("errorMessage") == "Failed authentication"
