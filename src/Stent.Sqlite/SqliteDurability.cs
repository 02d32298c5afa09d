// What a commit to a SQLite file survives once it has returned: a power loss, or only the process's crash.
namespace Stent.Sqlite;

/// <summary>What a commit to a SQLite file survives once it has returned (an in-memory store survives nothing).
/// </summary>
public enum SqliteDurability
{
    /// <summary>
    /// A power loss or a crash of the operating system, as well as of the process: each commit waits until the disk
    /// holds its log (SQLite's <c>synchronous = FULL</c>). The default: a step recorded as done is never run again, an
    /// execution recorded as ended never runs on.
    /// </summary>
    PowerLoss,

    /// <summary>
    /// A crash of the process only: commits reach the disk when the log is copied into the database, about every
    /// 100 ms (SQLite's <c>synchronous = NORMAL</c>). A power loss or a crash of the operating system may undo the
    /// last commits before it — steps they recorded run again, executions they ended go on — but never corrupts the
    /// file. A chain of short steps runs about three times as fast.
    /// </summary>
    ProcessCrash,
}
