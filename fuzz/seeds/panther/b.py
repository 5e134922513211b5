def _is_admin(event):
    return "admin" in event.deep_get("userIdentity", "arn", default="").lower()


def rule(event):
    return not _is_admin(event) and (event.get("errorCode") == "AccessDenied" or event["eventName"].startswith("Delete"))
