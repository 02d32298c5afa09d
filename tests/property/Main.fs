/// Runs every test and ends with the plain line `N passed, N failed` that CI reads.
module Main

open Expecto
open System
open Expecto.Impl

let all =
    testList "Stent" [
        DurationTests.tests
        RetryPolicyTests.tests
        LanguageExtTests.tests
        CombinatorTests.tests
        DslTests.tests
        ReplayProperties.tests
        HistoryTests.tests
        StepBatchesTests.tests
        SqlTests.tests
        StepItemsTests.tests
        StoreJsonTests.tests
        PostgresDialectTests.tests
        RecentConnectionsTests.tests
        SqliteDialectTests.tests
        MartenStreamsTests.tests
        StoreConformance.tests
        WorkStoreConformance.tests
        CrashTests.tests
        FailureSemanticsTests.tests
        SchedulingTests.tests
        TestingTests.tests
        HostingTests.tests
        ExampleTests.tests
        GuidePatternTests.tests
        GuidePatternTests.neighbourTests
        GuidePatternTests.practiceTests
        GuidePatternTests.fsharpTests
        LoggingTests.tests
        GoldenHistories.tests
        CliTests.tests
        TelemetryTests.tests
        ReadmeTests.tests
        PackageTests.tests
    ]

[<EntryPoint>]
let main argv =
    let printer = defaultConfig.printer
    let mutable counts = (0, 0)
    let summary =
        { printer with
            summary = fun config s ->
                counts <- (s.passed.Length, s.failed.Length + s.errored.Length)
                printer.summary config s }
    let code = runTestsWithCLIArgs [ CLIArguments.Printer summary; CLIArguments.No_Spinner; CLIArguments.Colours 0 ] argv all
    let passed, failed = counts
    // Expecto's console logger finishes asynchronously; let it, then print our line alone.
    Threading.Thread.Sleep 300
    Console.Out.Flush()
    Console.Out.Write($"\n{passed} passed, {failed} failed\n")
    Console.Out.Flush()
    code
