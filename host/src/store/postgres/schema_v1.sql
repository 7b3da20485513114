-- Islet's store on PostgreSQL, version 1: the key-value rows behind the
-- `KvStore` trait, byte usage per namespace, and the two functions that make
-- a conditional write and a batch one round trip each.

CREATE TABLE islet_kv (
    ns text COLLATE "C" NOT NULL,
    k  bytea NOT NULL,
    v  bytea NOT NULL,
    PRIMARY KEY (ns, k)
);

-- Bytes (keys plus values) per namespace, striped so that writers of one
-- namespace (the host's payment or consent rows, written by every host) do
-- not queue on one row. Quota-checked writes all use stripe 0, which
-- serialises them against each other; the usage is the sum of the stripes.
-- A batch (no quota by contract) racing a quota-checked write may add its
-- bytes unseen by that check; plugin storage writes are all quota-checked.
CREATE TABLE islet_kv_usage (
    ns     text COLLATE "C" NOT NULL,
    stripe smallint NOT NULL,
    bytes  bigint NOT NULL,
    PRIMARY KEY (ns, stripe)
);

-- Set (p_v not null) or delete (p_v null) one key. With p_check, the
-- current value must equal p_expected (null = absent). With p_quota, a
-- write that grows the namespace must keep it at or below p_quota bytes.
-- Raises IS409 on a failed expectation, IS413 on a quota refusal.
CREATE FUNCTION islet_kv_write(p_ns text, p_k bytea, p_check boolean, p_expected bytea,
                               p_v bytea, p_quota bigint, p_stripe smallint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    cur bytea;
    found_row boolean;
    old_size bigint;
    new_size bigint;
    total bigint;
    use_stripe smallint := p_stripe;
BEGIN
    LOOP
        SELECT v INTO cur FROM islet_kv WHERE ns = p_ns AND k = p_k FOR UPDATE;
        found_row := FOUND;
        IF p_check AND cur IS DISTINCT FROM p_expected THEN
            RAISE EXCEPTION 'the current value differs from the expected one' USING ERRCODE = 'IS409';
        END IF;
        old_size := CASE WHEN found_row THEN length(p_k) + length(cur) ELSE 0 END;
        new_size := CASE WHEN p_v IS NULL THEN 0 ELSE length(p_k) + length(p_v) END;
        IF p_quota IS NOT NULL AND new_size > old_size THEN
            use_stripe := 0;
            INSERT INTO islet_kv_usage AS u VALUES (p_ns, 0, 0)
                ON CONFLICT (ns, stripe) DO UPDATE SET bytes = u.bytes;
            SELECT coalesce(sum(bytes), 0) INTO total FROM islet_kv_usage WHERE ns = p_ns;
            IF total - old_size + new_size > p_quota THEN
                RAISE EXCEPTION 'the namespace''s quota would be exceeded' USING ERRCODE = 'IS413';
            END IF;
        END IF;
        IF p_v IS NULL THEN
            IF found_row THEN
                DELETE FROM islet_kv WHERE ns = p_ns AND k = p_k;
            END IF;
        ELSIF found_row THEN
            UPDATE islet_kv SET v = p_v WHERE ns = p_ns AND k = p_k;
        ELSE
            INSERT INTO islet_kv VALUES (p_ns, p_k, p_v) ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                -- Another transaction created the key since we looked.
                IF p_check THEN
                    RAISE EXCEPTION 'the current value differs from the expected one' USING ERRCODE = 'IS409';
                END IF;
                CONTINUE;
            END IF;
        END IF;
        EXIT;
    END LOOP;
    IF new_size <> old_size THEN
        INSERT INTO islet_kv_usage AS u VALUES (p_ns, use_stripe, new_size - old_size)
            ON CONFLICT (ns, stripe) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes;
    END IF;
END $$;

-- Apply a batch to one namespace: every expectation (p_expect_values[i]
-- null = absent) checked, every write (p_values[i] null = delete) made, or
-- nothing (IS409). A key expected absent is only ever inserted, never
-- overwritten, so two batches creating the same key cannot both succeed.
CREATE FUNCTION islet_kv_commit(p_ns text, p_expect_keys bytea[], p_expect_values bytea[],
                                p_keys bytea[], p_values bytea[], p_stripe smallint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    i int;
    cur bytea;
    absent bytea[] := '{}';
    mine bytea[] := '{}';
    delta bigint := 0;
    old_size bigint;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_expect_keys, 1), 0) LOOP
        SELECT v INTO cur FROM islet_kv WHERE ns = p_ns AND k = p_expect_keys[i] FOR UPDATE;
        IF cur IS DISTINCT FROM p_expect_values[i] THEN
            RAISE EXCEPTION 'the current value differs from the expected one' USING ERRCODE = 'IS409';
        END IF;
        IF p_expect_values[i] IS NULL THEN
            absent := array_append(absent, p_expect_keys[i]);
        END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
        IF p_values[i] IS NULL THEN
            old_size := NULL;
            DELETE FROM islet_kv WHERE ns = p_ns AND k = p_keys[i]
                RETURNING length(k) + length(v) INTO old_size;
            delta := delta - coalesce(old_size, 0);
            CONTINUE;
        END IF;
        LOOP
            SELECT v INTO cur FROM islet_kv WHERE ns = p_ns AND k = p_keys[i] FOR UPDATE;
            IF FOUND THEN
                IF p_keys[i] = ANY (absent) AND NOT p_keys[i] = ANY (mine) THEN
                    RAISE EXCEPTION 'the current value differs from the expected one' USING ERRCODE = 'IS409';
                END IF;
                UPDATE islet_kv SET v = p_values[i] WHERE ns = p_ns AND k = p_keys[i];
                delta := delta - length(cur) + length(p_values[i]);
                EXIT;
            END IF;
            INSERT INTO islet_kv VALUES (p_ns, p_keys[i], p_values[i]) ON CONFLICT DO NOTHING;
            IF FOUND THEN
                mine := array_append(mine, p_keys[i]);
                delta := delta + length(p_keys[i]) + length(p_values[i]);
                EXIT;
            END IF;
            IF p_keys[i] = ANY (absent) THEN
                RAISE EXCEPTION 'the current value differs from the expected one' USING ERRCODE = 'IS409';
            END IF;
        END LOOP;
    END LOOP;
    IF delta <> 0 THEN
        INSERT INTO islet_kv_usage AS u VALUES (p_ns, p_stripe, delta)
            ON CONFLICT (ns, stripe) DO UPDATE SET bytes = u.bytes + EXCLUDED.bytes;
    END IF;
END $$;
