"""The Flask service this project replaces, rebuilt from its contract
(DESIGN.md §1: Flask + SQLAlchemy + PyJWT + pika, Flask-CORS) so that
tests/bench/spin-ab can measure it in the same sitting as the app. It is a
benchmark peer, not part of the service: only `/auth/health` and `/profile`
are measured, and it runs the way the Flask figures in the issues were
taken, under gunicorn with four sync workers.

    DATABASE_URL=postgresql://... SECRET_KEY=... gunicorn -w 4 app:app
"""
import datetime
import hashlib
import json
import os
import uuid
from functools import wraps

import jwt
import pika
from flask import Flask, jsonify, request
from flask_cors import CORS
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
CORS(app)
db = SQLAlchemy(app)


class User(db.Model):
    __tablename__ = "user"
    id = db.Column(db.String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    username = db.Column(db.String(80), unique=True, nullable=False)
    password = db.Column(db.String(200), nullable=False)
    email = db.Column(db.String(120), unique=True, nullable=False)


def hash_password(password):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), b"salt", 1000, 64).hex()


def publish(event, data):
    body = {"event": event, "data": data, "timestamp": datetime.datetime.utcnow().isoformat(), "id": str(uuid.uuid4())}
    params = pika.ConnectionParameters(host=os.environ.get("RABBITMQ_HOST", "127.0.0.1"),
                                       port=int(os.environ.get("RABBITMQ_PORT", "5672")))
    queue = os.environ.get("RABBITMQ_QUEUE", "auth-events")
    connection = pika.BlockingConnection(params)
    try:
        channel = connection.channel()
        channel.queue_declare(queue=queue, durable=True)
        channel.basic_publish(exchange="", routing_key=queue, body=json.dumps(body),
                              properties=pika.BasicProperties(delivery_mode=2))
    finally:
        connection.close()
    return body["id"]


def token_required(f):
    @wraps(f)
    def decorated(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return jsonify({"message": "Token is missing"}), 403
        try:
            claims = jwt.decode(header[7:], app.config["SECRET_KEY"], algorithms=["HS256"])
        except jwt.ExpiredSignatureError:
            return jsonify({"message": "Token expired"}), 401
        except jwt.InvalidTokenError:
            return jsonify({"message": "Invalid token"}), 401
        user = db.session.get(User, claims["user_id"])
        if user is None:
            return jsonify({"message": "User not found"}), 404
        return f(user, *args, **kwargs)
    return decorated


@app.route("/auth/health")
def health():
    try:
        db.session.execute(text("SELECT 1"))
        return jsonify({"status": "healthy"})
    except Exception:
        return jsonify({"status": "unhealthy", "error": "database"}), 503


@app.route("/test-db")
def test_db():
    now = db.session.execute(text("SELECT now()")).scalar()
    return jsonify({"message": "Successful connection", "timestamp": now.isoformat()})


@app.route("/login", methods=["POST"])
def login():
    body = request.get_json(silent=True) or {}
    name, password = body.get("username"), body.get("password")
    user = User.query.filter((User.username == name) | (User.email == name)).first()
    if user is None or user.password != hash_password(password or ""):
        publish("UserLoginFailed", {"username": name, "reason": "Invalid credentials"})
        return jsonify({"message": "Invalid credentials"}), 401
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    token = jwt.encode({"user_id": user.id, "username": user.username, "exp": exp}, app.config["SECRET_KEY"],
                       algorithm="HS256")
    publish("UserLoggedIn", {"user_id": user.id, "username": user.username, "email": user.email})
    return jsonify({"token": token})


@app.route("/profile")
@token_required
def profile(user):
    return jsonify({"username": user.username, "email": user.email, "user_id": user.id})


@app.route("/test-event")
def test_event():
    event_id = publish("TestEvent", {"msg": "Test event from auth service"})
    return jsonify({"message": "Test event published", "event_id": event_id})
