"""Reads and prints every message waiting in a RabbitMQ queue (default
auth-events) with its properties, acknowledging them: what a consumer of the
service's events sees.

    python3 -m venv /tmp/pika && /tmp/pika/bin/pip install pika
    /tmp/pika/bin/python tests/consume_events.py [queue]
"""
import json
import sys

import pika

queue = sys.argv[1] if len(sys.argv) > 1 else "auth-events"
connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
channel = connection.channel()
seen = set()
while True:
    method, properties, body = channel.basic_get(queue=queue, auto_ack=True)
    if method is None:
        break
    duplicate = properties.message_id in seen  # at-least-once: de-duplicate by message_id
    seen.add(properties.message_id)
    print(json.dumps({
        "message_id": properties.message_id,
        "type": properties.type,
        "delivery_mode": properties.delivery_mode,
        "app_id": properties.app_id,
        "duplicate": duplicate,
        "body": json.loads(body),
    }))
connection.close()
