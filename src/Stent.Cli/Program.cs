// The stent command line's entry point.
return await Stent.Cli.Commands.RunAsync(args, Console.Out, Console.Error, CancellationToken.None);
