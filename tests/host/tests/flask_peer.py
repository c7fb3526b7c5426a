"""The Flask service's side of the contract tests, in its own libraries.

    flask_peer.py encode SECRET USER_ID USERNAME EXP_OFFSET_SECONDS
    flask_peer.py decode SECRET TOKEN
    flask_peer.py legacy-hash PASSWORD
    flask_peer.py sqlite-user DATABASE_FILE USER_ID USERNAME EMAIL PASSWORD
    flask_peer.py jwks-decode JWKS_URL TOKEN
    flask_peer.py foreign-hashes PASSWORD

`encode` mints a token exactly as the Flask service did (PyJWT); `decode`
verifies one as a PyJWT consumer does and prints its claims as JSON;
`legacy-hash` prints the Flask service's password hash; `sqlite-user` makes
the Flask service's table in an SQLite file as SQLAlchemy creates it there
and writes one user into it with Python's sqlite3, as the Flask service
does when its DATABASE_URL is sqlite:///. `jwks-decode` verifies a token
the way a service that trusts this one's JWKS does (PyJWT's PyJWKClient,
which needs pyjwt[crypto]) and prints its claims as JSON. `foreign-hashes`
prints, as a JSON object, hashes of PASSWORD made by the libraries of the
systems users migrate from: Werkzeug, Django's algorithm, bcrypt and
argon2-cffi.
"""
import datetime
import hashlib
import json
import sqlite3
import sys

# What SQLAlchemy 2 emits for the Flask service's model on SQLite.
SQLALCHEMY_SQLITE_USER_TABLE = """
CREATE TABLE user (
	id VARCHAR(36) NOT NULL, 
	username VARCHAR(80) NOT NULL, 
	password VARCHAR(200) NOT NULL, 
	email VARCHAR(120) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (username), 
	UNIQUE (email)
)
"""


def legacy_hash(password):
    return hashlib.pbkdf2_hmac("sha256", password.encode(), b"salt", 1000, 64).hex()

import jwt


def foreign_hashes(password):
    import base64
    import secrets

    import argon2
    import bcrypt
    from werkzeug.security import generate_password_hash

    # Django's PBKDF2PasswordHasher.encode, with its own salt alphabet.
    salt = secrets.token_hex(11)
    django_key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 1000)
    fast_argon2 = dict(time_cost=1, memory_cost=1024, parallelism=1)
    return {
        "werkzeug pbkdf2 sha256": generate_password_hash(password, method="pbkdf2:sha256:1000"),
        "werkzeug pbkdf2 sha512": generate_password_hash(password, method="pbkdf2:sha512:1000"),
        "werkzeug scrypt (its default)": generate_password_hash(password),
        "django pbkdf2_sha256": f"pbkdf2_sha256$1000${salt}${base64.b64encode(django_key).decode()}",
        "bcrypt 2b": bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode(),
        "bcrypt 2a": bcrypt.hashpw(password.encode(), bcrypt.gensalt(4, prefix=b"2a")).decode(),
        "bcrypt 2y": bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1),
        "argon2id (its default)": argon2.PasswordHasher().hash(password),
        "argon2i": argon2.PasswordHasher(type=argon2.Type.I, **fast_argon2).hash(password),
    }


def main(argv):
    command = argv[1]
    if command == "legacy-hash":
        print(legacy_hash(argv[2]))
        return
    if command == "sqlite-user":
        path, user_id, username, email, password = argv[2:7]
        with sqlite3.connect(path) as db:
            db.execute(SQLALCHEMY_SQLITE_USER_TABLE)
            db.execute(
                "INSERT INTO user (id, username, password, email) VALUES (?, ?, ?, ?)",
                (user_id, username, legacy_hash(password), email),
            )
        return
    if command == "foreign-hashes":
        print(json.dumps(foreign_hashes(argv[2])))
        return
    if command == "jwks-decode":
        url, token = argv[2], argv[3]
        key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token)
        print(json.dumps(jwt.decode(token, key, algorithms=["EdDSA", "ES256"])))
        return
    secret = argv[2]
    if command == "encode":
        user_id, username, offset = argv[3], argv[4], int(argv[5])
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset)
        print(jwt.encode({"user_id": user_id, "username": username, "exp": exp}, secret, algorithm="HS256"))
    elif command == "decode":
        print(json.dumps(jwt.decode(argv[3], secret, algorithms=["HS256"])))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
