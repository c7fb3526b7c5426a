-- /profile's one statement as a PL/pgSQL function (DESIGN.md §6). Spin
-- sends every statement unnamed, so PostgreSQL parses and plans it on each
-- request, and the session check made that planning the larger part of
-- /profile's PostgreSQL time. A PL/pgSQL function keeps its query's plan
-- for the life of the connection (Spin pools connections, and its reset
-- between checkouts keeps plans), so the statement the service sends is
-- trivial to plan. The user and whether session `for_session` of
-- `for_user` is live; always one row (nulls for an unknown user).
CREATE OR REPLACE FUNCTION auth_session_user(for_user varchar, for_session varchar)
    RETURNS TABLE (id varchar, username varchar, email varchar, live boolean)
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY SELECT u.id, u.username, u.email,
        EXISTS (SELECT 1 FROM auth_session s WHERE s.id = for_session AND s.user_id = for_user
            AND s.revoked_at IS NULL AND s.expires_at > now())
    FROM (SELECT 1) AS one
    LEFT JOIN "user" u ON u.id = for_user;
END;
$$;
