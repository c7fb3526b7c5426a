"""The Flask service's side of the contract tests, in its own libraries.

    flask_peer.py encode SECRET USER_ID USERNAME EXP_OFFSET_SECONDS
    flask_peer.py decode SECRET TOKEN
    flask_peer.py legacy-hash PASSWORD

`encode` mints a token exactly as the Flask service did (PyJWT); `decode`
verifies one as a PyJWT consumer does and prints its claims as JSON;
`legacy-hash` prints the Flask service's password hash.
"""
import datetime
import hashlib
import json
import sys

import jwt


def main(argv):
    command = argv[1]
    if command == "legacy-hash":
        print(hashlib.pbkdf2_hmac("sha256", argv[2].encode(), b"salt", 1000, 64).hex())
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
