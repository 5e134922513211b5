import re
BAD = re.compile(r"^(curl|wget)\s")

def rule(event):
    cmd = event.get("command", "")
    if any(cmd.startswith(p) for p in ["nc ", "ncat "]):
        return True
    return bool(BAD.match(cmd)) and event.get("uid", 0) > 0
