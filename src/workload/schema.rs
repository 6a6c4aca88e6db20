//! The sysbench `oltp_common` schema on PostgreSQL, statement for statement: what sysbench's pgsql driver
//! creates (`id SERIAL`, the primary key `sbtestN_pkey`, the secondary index `k_N`), split so that the
//! loader can build the indexes after the rows are in.

/// The name of table `n` (1-based).
pub fn table_name(n: u32) -> String {
    format!("sbtest{n}")
}

/// `CREATE TABLE` as sysbench writes it, minus the `PRIMARY KEY (id)` clause ([`primary_key_sql`] adds
/// it after the data, under the same name PostgreSQL gives it inline: `sbtestN_pkey`).
pub fn create_table_sql(n: u32) -> String {
    format!(
        "CREATE TABLE sbtest{n}(\n  id SERIAL,\n  k INTEGER DEFAULT '0' NOT NULL,\n  \
         c CHAR(120) DEFAULT '' NOT NULL,\n  pad CHAR(60) DEFAULT '' NOT NULL\n)"
    )
}

/// The primary key sysbench declares inline.
pub fn primary_key_sql(n: u32) -> String {
    format!("ALTER TABLE sbtest{n} ADD PRIMARY KEY (id)")
}

/// sysbench's secondary index.
pub fn secondary_index_sql(n: u32) -> String {
    format!("CREATE INDEX k_{n} ON sbtest{n}(k)")
}

/// Moves the id sequence to where sysbench's inserts leave it (its next value follows the last row).
pub fn sequence_sql(n: u32, table_size: u32) -> Option<String> {
    (table_size > 0).then(|| format!("SELECT setval('sbtest{n}_id_seq', {table_size})"))
}

/// The bulk load statement; `FREEZE` is allowed because the table was created in the same transaction.
pub fn copy_sql(n: u32) -> String {
    format!("COPY sbtest{n} (id, k, c, pad) FROM STDIN (FREEZE)")
}

/// As sysbench's `cleanup`.
pub fn drop_table_sql(n: u32) -> String {
    format!("DROP TABLE IF EXISTS sbtest{n}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_the_table() {
        assert!(create_table_sql(3).starts_with("CREATE TABLE sbtest3("));
        assert_eq!(secondary_index_sql(3), "CREATE INDEX k_3 ON sbtest3(k)");
        assert_eq!(
            sequence_sql(2, 10).unwrap(),
            "SELECT setval('sbtest2_id_seq', 10)"
        );
        assert_eq!(sequence_sql(2, 0), None);
    }
}
