"""Drives the simulator with Twilio's official Python library: create, fetch and list
calls and messages, as any Twilio client would. Usage: official_client.py BASE SID TOKEN"""
import sys

from twilio.rest import Client

base, sid, token = sys.argv[1:4]
client = Client(sid, token)
client.api.base_url = base  # the simulator instead of api.twilio.com

call = client.calls.create(to="+819000000001", from_="+815012345678", url="http://127.0.0.1:9/voice")
assert call.sid.startswith("CA") and len(call.sid) == 34, call.sid
fetched = client.calls(call.sid).fetch()
assert fetched.sid == call.sid and fetched.to == "+819000000001", fetched
assert fetched.date_created is not None, "date_created parses as a date"
listed = client.calls.list(to="+819000000001")
assert call.sid in [c.sid for c in listed], listed

message = client.messages.create(to="+819000000001", from_="+815012345678", body="kaden")
assert client.messages(message.sid).fetch().body == "kaden"
assert message.sid in [m.sid for m in client.messages.list()]
print("the official twilio library created, fetched and listed calls and messages")
