// A SQL statement being built: text and named parameters (@p0, @p1, …) that every ADO.NET provider here understands.
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Text;

namespace Stent.Storage.Relational;

/// <summary>
/// SQL text with its parameters. Values are always parameters, never spliced into the text; table names come from
/// the dialect. Several statements may be joined with <c>;</c> into one command (one round trip on PostgreSQL).
/// </summary>
public sealed class Sql
{
    private readonly StringBuilder _text = new();
    private readonly List<(string Name, object? Value, DbType Type)> _args = [];
    private Dictionary<(object Value, DbType Type), string>? _shared;
    private long _textBound;

    /// <summary>Text values up to this length are bound once however often they are added (a fan-out's rows share
    /// their execution, function, queue and time).</summary>
    private const int SharedLength = 64;

    /// <summary>A command that binds more text than this is never kept by the dialect: a kept command holds its last
    /// values (managed and in the database's prepared statement) until it runs again.</summary>
    private const int KeptText = 4_096;

    /// <summary>A statement starting with <paramref name="text"/>.</summary>
    public Sql(string text = "") => _text.Append(text);

    /// <summary>True when no text has been added.</summary>
    public bool IsEmpty => _text.Length == 0;

    /// <summary>Appends SQL text.</summary>
    public Sql Append(string text)
    {
        _text.Append(text);
        return this;
    }

    /// <summary>Ends the statement written last, if there is one and it is not ended yet, so what is appended next is a
    /// statement of its own and no empty statement goes between two.</summary>
    public Sql EndStatement()
    {
        for (var i = _text.Length - 1; i >= 0; i--)
        {
            if (char.IsWhiteSpace(_text[i])) continue;
            if (_text[i] != ';') _text.Append(';');
            break;
        }
        return this;
    }

    /// <summary>Puts SQL text before what is there (a statement whose results are read first).</summary>
    public Sql Prepend(string text)
    {
        _text.Insert(0, text);
        return this;
    }

    /// <summary>Adds a text parameter (a short one already added is not added again); returns its placeholder.
    /// </summary>
    public string P(string? value) => Add(value, DbType.String);

    /// <summary>Adds an integer parameter; returns its placeholder.</summary>
    public string P(long? value) => Add(value, DbType.Int64);

    /// <summary>Adds an integer parameter; returns its placeholder.</summary>
    public string P(int? value) => Add(value, DbType.Int32);

    /// <summary>Adds an array parameter (for databases that take arrays); returns its placeholder.</summary>
    public string Array<T>(T[] values) => Bind(values, DbType.Object);

    /// <summary>Adds a flag as 0 or 1; returns its placeholder.</summary>
    public string P(bool value) => Add(value ? 1 : 0, DbType.Int32);

    /// <summary>Adds one parameter per value; returns the placeholders separated by commas.</summary>
    public string List(IEnumerable<string> values) => string.Join(", ", values.Select(P));

    /// <summary>Adds one parameter per value; returns the placeholders separated by commas.</summary>
    public string List(IEnumerable<long> values) => string.Join(", ", values.Select(v => P(v)));

    private string Add(object? value, DbType type)
    {
        if (value is null or string { Length: > SharedLength }) return Bind(value, type);
        _shared ??= [];
        if (_shared.TryGetValue((value, type), out var known)) return known;
        return _shared[(value, type)] = Bind(value, type);
    }

    private string Bind(object? value, DbType type)
    {
        var name = "@p" + _args.Count.ToString(CultureInfo.InvariantCulture);
        _args.Add((name, value, type));
        if (value is string text) _textBound += text.Length;
        return name;
    }

    /// <summary>
    /// <paramref name="write"/> (an UPDATE or DELETE that ends <c>RETURNING <paramref name="columns"/></c>, <paramref
    /// name="count"/> of them) as a statement that returns the same rows and fails when they are not <paramref
    /// name="expected"/> (division by zero: <see cref="IsRefusal"/>), failing the transaction it runs in. What a
    /// decision's commit checks in its client inside a transaction, checked so by the database where the commit is
    /// one command outside one (<see cref="ISqlDialect.ImplicitTransactions"/>; PostgreSQL syntax).
    /// </summary>
    public static string Refusal(string write, string columns, int count, int expected) =>
        $"WITH written AS ({write}) SELECT {columns} FROM written UNION ALL SELECT " +
        string.Join(", ", Enumerable.Repeat("NULL", count)) + " WHERE 1 / (CASE WHEN (SELECT count(*) FROM " +
        $"written) = {expected.ToString(CultureInfo.InvariantCulture)} THEN 1 ELSE 0 END) = 0";

    /// <summary>Whether <paramref name="e"/> is the failure of a check written by <see cref="Refusal"/>.</summary>
    public static bool IsRefusal(Exception e) => e is DbException { SqlState: "22012" };

    /// <summary>Parameters added so far.</summary>
    public int ParameterCount => _args.Count;

    /// <summary>How many statements the text holds (separated by <c>;</c>, which never occurs in a value).</summary>
    public int StatementCount
    {
        get
        {
            // Read in place (a large write's text is not copied to be counted); a statement may span chunks.
            var (count, open) = (0, false);
            foreach (var chunk in _text.GetChunks())
                for (var rest = chunk.Span; ;)
                {
                    var end = rest.IndexOf(';');
                    open |= !(end < 0 ? rest : rest[..end]).IsWhiteSpace();
                    if (end < 0) break;
                    if (open) count++;
                    open = false;
                    rest = rest[(end + 1)..];
                }
            return open ? count + 1 : count;
        }
    }

    /// <summary>
    /// The statements (separated by <c>;</c>, which never occurs in a value: values are parameters) grouped into
    /// commands of at most about <paramref name="maxParameters"/> parameters each, every command binding only the
    /// parameters it uses. One statement is never split.
    /// </summary>
    public IEnumerable<Sql> Commands(int maxParameters)
    {
        if (_args.Count <= maxParameters) { yield return this; yield break; }
        // Placeholders keep their names (@p<i> is argument i): a command binds the arguments its statements name.
        var text = _text.ToString();
        var current = new Sql();
        var bound = new HashSet<int>();
        var used = new List<int>();
        for (var from = 0; from < text.Length;)
        {
            var end = text.IndexOf(';', from);
            if (end < 0) end = text.Length;
            var (at, length) = (from, end - from);
            from = end + 1;
            if (text.AsSpan(at, length).IsWhiteSpace()) continue;
            used.Clear();
            Placeholders(text.AsSpan(at, length), used);
            if (current.ParameterCount > 0 && current.ParameterCount + used.Count(i => !bound.Contains(i)) >
                maxParameters)
            {
                yield return current;
                current = new Sql();
                bound.Clear();
            }
            foreach (var i in used)
                if (bound.Add(i))
                {
                    current._args.Add(_args[i]);
                    if (_args[i].Value is string value) current._textBound += value.Length;
                }
            current._text.Append(text, at, length).Append(';');
        }
        if (!current.IsEmpty) yield return current;
    }

    /// <summary>Adds the index of every placeholder in <paramref name="statement"/> to <paramref name="into"/>.
    /// </summary>
    private static void Placeholders(ReadOnlySpan<char> statement, List<int> into)
    {
        for (var i = statement.IndexOf("@p", StringComparison.Ordinal); i >= 0;)
        {
            var j = i + 2;
            var index = 0;
            for (; j < statement.Length && char.IsAsciiDigit(statement[j]); j++)
                index = index * 10 + statement[j] - '0';
            if (j > i + 2) into.Add(index);
            var next = statement[j..].IndexOf("@p", StringComparison.Ordinal);
            i = next < 0 ? -1 : j + next;
        }
    }

    /// <summary>A new command on <paramref name="connection"/> in <paramref name="tx"/>.</summary>
    public DbCommand Command(DbConnection connection, DbTransaction? tx)
    {
        var cmd = connection.CreateCommand();
        cmd.CommandText = _text.ToString();
        return Bind(cmd, tx);
    }

    /// <summary>A command from <paramref name="dialect"/> (prepared, when it keeps one: <paramref name="kept"/>) with
    /// these parameters; one that binds much text is a new command, so nothing keeps its values once it ran.</summary>
    public DbCommand Command(ISqlDialect dialect, DbConnection connection, DbTransaction? tx, out bool kept)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        if (_textBound <= KeptText) return Bind(dialect.Command(connection, _text.ToString(), out kept), tx);
        kept = false;
        return Command(connection, tx);
    }

    /// <summary>Done with a command from <see cref="Command(ISqlDialect, DbConnection, DbTransaction?, out bool)"/>:
    /// a kept one lets go of its values, any other is disposed.</summary>
    public static ValueTask DoneAsync(DbCommand command, bool kept)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (!kept) return command.DisposeAsync();
        command.Parameters.Clear();
        return ValueTask.CompletedTask;
    }

    private DbCommand Bind(DbCommand cmd, DbTransaction? tx)
    {
        cmd.Transaction = tx;
        cmd.Parameters.Clear();
        foreach (var (name, value, type) in _args)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.DbType = type;
            p.Value = value ?? DBNull.Value;
            cmd.Parameters.Add(p);
        }
        return cmd;
    }

    /// <inheritdoc />
    public override string ToString() => _text.ToString();
}
